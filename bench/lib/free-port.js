// A TCP port on 127.0.0.1 that the OS just reported free, for a process the bench starts (a
// random number can land on a port another process, or an outgoing connection, holds).
'use strict';
const { createServer } = require('node:net');

const freePort = () =>
  new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

module.exports = { freePort };
