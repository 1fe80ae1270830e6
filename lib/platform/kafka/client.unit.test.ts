import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../logger.ts';
import { createKafka } from './client.ts';

describe("kafkajs's log lines", () => {
  it('are warnings, not errors, for what kafkajs retries (a broker still settling at start-up)', () => {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const kafka = createKafka(
      { KAFKA_BROKERS: ['127.0.0.1:9'], KAFKA_CLIENT_ID: 'log-test' },
      createLogger({ LOG_LEVEL: 'info' }, {}, sink),
    );
    kafka.logger().error('Response GroupCoordinator(key: 10, version: 2)', {
      error: 'The group coordinator is not available',
    });
    kafka.logger().error('Crash: KafkaJSNonRetriableError', { error: 'Topic authorization failed' });
    assert.deepEqual(
      lines.map((line) => line.level),
      [40, 50],
    );
  });
});
