import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { ConfigError, ConfigSchema, parseConfig } from './config.ts';

describe('parseConfig', () => {
  it('has defaults that work against the local stack', () => {
    // In development: unset, NODE_ENV is production, which needs a secret (auth.unit.test.ts).
    const config = parseConfig({ NODE_ENV: 'development' });
    assert.equal(config.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/seatrush');
    assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379/0');
    assert.deepEqual(config.KAFKA_BROKERS, ['127.0.0.1:9092']);
    assert.equal(config.PORT, 3000);
  });

  it('parses lists and numbers', () => {
    const config = parseConfig({ NODE_ENV: 'development', KAFKA_BROKERS: 'a:1, b:2', PORT: '8080' });
    assert.deepEqual(config.KAFKA_BROKERS, ['a:1', 'b:2']);
    assert.equal(config.PORT, 8080);
  });

  it('names the bad variable in one line', () => {
    assert.throws(
      () => parseConfig({ DATABASE_URL: 'mysql://x' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /^config: DATABASE_URL="mysql:\/\/x" is invalid: /.test(error.message) &&
        !error.message.includes('\n'),
    );
    assert.throws(() => parseConfig({ PORT: 'eighty' }), /config: PORT="eighty" is invalid/);
    assert.throws(
      () => parseConfig({ KAFKA_BROKERS: 'nohost' }),
      /config: KAFKA_BROKERS="nohost" is invalid/,
    );
  });

  it('describes every variable: README and the deploy files document the settings from these descriptions', () => {
    const undescribed = Object.entries(ConfigSchema.entries)
      .filter(([, schema]) => !v.getDescription(schema)?.trim())
      .map(([name]) => name);
    assert.deepEqual(undescribed, []);
  });
});
