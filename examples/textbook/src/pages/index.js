import React from 'react';
import Link from '@docusaurus/Link';
import useDocusaurusContext from '@docusaurus/useDocusaurusContext';
import Layout from '@theme/Layout';

export default function Home() {
  const {siteConfig} = useDocusaurusContext();
  return (
    <Layout title="Home" description={siteConfig.tagline}>
      <header className="hero hero--primary">
        <div className="container">
          <h1 className="hero__title">{siteConfig.title}</h1>
          <p className="hero__subtitle">{siteConfig.tagline}</p>
          <Link className="button button--secondary button--lg" to="/docs/intro">
            Start reading
          </Link>
        </div>
      </header>
      <main className="container margin-vert--lg">
        <ol>
          <li><Link to="/docs/embodied-intelligence">Embodied intelligence</Link></li>
          <li><Link to="/docs/sensors-and-perception">Sensors and perception</Link></li>
          <li><Link to="/docs/locomotion-and-control">Locomotion and control</Link></li>
          <li><Link to="/docs/humanoid-systems">Humanoid systems</Link></li>
        </ol>
      </main>
    </Layout>
  );
}
