export { allowedHostNames, hostName, hostOfHeader, loopbackHosts } from './allowed-hosts.js';
