#!/usr/bin/env node
// Readiness probe for scripts/kafka.sh: succeeds once the broker answers a real
// Metadata request from a kafkajs admin client.
// usage: node wait-ready.js <host:port> <timeoutSeconds> [dirToResolveKafkajsFrom]
// Env KAFKA_BROKER_PID: give up early if that process dies.
'use strict';
const path = require('path');

const [bootstrap = '127.0.0.1:9092', timeoutArg = '90', from = path.resolve(__dirname, '..', '..')] =
  process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const brokerPid = Number(process.env.KAFKA_BROKER_PID || 0);

const { Kafka, logLevel } = require(require.resolve('kafkajs', { paths: [from] }));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alive = (pid) => {
  if (!pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function probe() {
  const kafka = new Kafka({
    clientId: 'tally-kafka-wait-ready',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster(); // Metadata request
    if (!cluster.brokers.length || cluster.controller == null) throw new Error('no brokers/controller yet');
    return cluster;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

(async () => {
  let lastErr;
  while (Date.now() < deadline) {
    if (!alive(brokerPid)) {
      console.error(`wait-ready: broker process ${brokerPid} exited`);
      process.exit(1);
    }
    try {
      const c = await probe();
      console.log(`wait-ready: ${bootstrap} ok (cluster ${c.clusterId}, controller ${c.controller}, kafkajs)`);
      process.exit(0);
    } catch (e) {
      lastErr = e;
      await sleep(500);
    }
  }
  console.error(`wait-ready: ${bootstrap} not ready after ${timeoutArg}s: ${lastErr && lastErr.message}`);
  process.exit(1);
})();
