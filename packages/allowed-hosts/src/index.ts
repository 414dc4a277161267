export {
  allowedHostNames,
  hostName,
  hostOfHeader,
  loopbackHosts,
  requestedHost,
  type RequestedHost,
  targetAuthority,
} from './allowed-hosts.js';
