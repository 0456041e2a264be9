// @ts-check
// Physical AI & Humanoid Robotics — a small Docusaurus 3 textbook.
// Everything that differs between environments comes from the build environment (public values only: whatever is
// read here is baked into the published site):
//   SITE_URL      the site's origin            (default http://127.0.0.1:8481, the sandbox's Pages host)
//   BASE_URL      the path the site lives under (default /textbook/textbook/)
//   CHAT_API_URL  the chat backend's address    (default http://127.0.0.1:8000), exposed as customFields.chatApiUrl
const withSlashes = (path) => `/${path.replace(/^\/+|\/+$/g, '')}/`.replace(/^\/\/$/, '/');

const siteUrl = (process.env.SITE_URL || 'http://127.0.0.1:8481').replace(/\/+$/, '');
const baseUrl = withSlashes(process.env.BASE_URL || '/textbook/textbook/');
const chatApiUrl = process.env.CHAT_API_URL || 'http://127.0.0.1:8000';

/** @type {import('@docusaurus/types').Config} */
const config = {
  title: 'Physical AI & Humanoid Robotics',
  tagline: 'From embodied intelligence to walking, grasping robots',
  favicon: 'img/favicon.svg',
  url: siteUrl,
  baseUrl,
  trailingSlash: true,
  onBrokenLinks: 'throw',
  markdown: {
    hooks: {onBrokenMarkdownLinks: 'throw'},
  },
  i18n: {defaultLocale: 'en', locales: ['en']},
  customFields: {chatApiUrl},
  presets: [
    [
      'classic',
      /** @type {import('@docusaurus/preset-classic').Options} */
      ({
        docs: {
          routeBasePath: 'docs',
          sidebarPath: require.resolve('./sidebars.js'),
        },
        blog: false,
        theme: {customCss: require.resolve('./src/css/custom.css')},
      }),
    ],
  ],
  themeConfig:
    /** @type {import('@docusaurus/preset-classic').ThemeConfig} */
    ({
      navbar: {
        title: 'Physical AI Textbook',
        logo: {alt: 'Textbook logo', src: 'img/logo.svg'},
        items: [{type: 'docSidebar', sidebarId: 'textbook', position: 'left', label: 'Chapters'}],
      },
      footer: {
        style: 'dark',
        copyright: 'Physical AI & Humanoid Robotics textbook. Built with Docusaurus.',
      },
    }),
};

module.exports = config;
