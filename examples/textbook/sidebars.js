// @ts-check
/** @type {import('@docusaurus/plugin-content-docs').SidebarsConfig} */
const sidebars = {
  textbook: [
    'intro',
    'embodied-intelligence',
    'sensors-and-perception',
    'locomotion-and-control',
    'humanoid-systems',
  ],
};

module.exports = sidebars;
