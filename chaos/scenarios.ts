import { setTimeout as sleep } from 'node:timers/promises';
/**
 * One fault per scenario, injected while the flash sale runs, then recovered. `inject` returns
 * once the system is whole again (the process restarted, the broker resumed, ...), having called
 * `recovered()` at that moment.
 */
import type pg from 'pg';
import { seatKeys } from '../lib/booking/seats/keys.ts';
import type { Balancer } from './balancer.ts';
import { run, waitFor } from './children.ts';
import type { Fleet, FleetPlan } from './fleet.ts';
import type { PrivateKafka, PrivatePostgres, PrivateRedis } from './infra.ts';
import type { FlashSale } from './load.ts';
import type { ChaosOptions } from './options.ts';

export interface FaultContext {
  fleet: Fleet;
  balancer: Balancer;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  kafka: PrivateKafka;
  sale: FlashSale;
  options: ChaosOptions;
  /** Records a moment of the fault on the scenario's timeline. */
  mark(what: string): void;
  recovered(): void;
}

/** What a scenario may tamper with once the load is over, before the checks. */
export interface TamperContext {
  pool: pg.Pool;
  redis: PrivateRedis;
  eventId: number;
  sale: FlashSale;
  mark(what: string): void;
}

export interface Scenario {
  name: string;
  about: string;
  /** Runs only when named with --scenario. */
  hidden?: boolean;
  /** Plants damage after the load, for the checks to find (the self-test). */
  tamper?(context: TamperContext): Promise<void>;
  /** Repeated `options.repeats` times in a full run (each kill or stop fault). */
  repeated: boolean;
  /** The same load against a 3-master Redis Cluster instead of the one Redis. */
  redisCluster?: boolean;
  /** How long the fault lasts, for the load to outlast it. */
  spanMs(options: ChaosOptions): number;
  inject(context: FaultContext): Promise<void>;
}

/** The fleet of every scenario: each function once, and two of book, booking-processor and seat-projector. */
export function basePlan(functionNames: readonly string[]): FleetPlan {
  const plan: FleetPlan = Object.fromEntries(functionNames.map((name) => [name, 1]));
  for (const name of ['book', 'booking-processor', 'seat-projector']) plan[name] = 2;
  return plan;
}

function killScenario(fn: string): Scenario {
  return {
    name: `kill-${fn}`,
    about: `kill -9 one ${fn} instance mid-load, restart it after the downtime`,
    repeated: true,
    spanMs: (options) => options.downMs,
    async inject({ fleet, balancer, sale, options, mark, recovered }) {
      const instance = fleet.of(fn)[0];
      if (!instance) throw new Error(`no ${fn} instance`);
      if (fn === 'book') {
        // The kill lands while the balancer waits on this instance, so some request dies with it.
        await waitFor(() => balancer.inFlight(instance.url) > 0, 5_000, 5);
      } else if (fn === 'cancel') {
        // Cancels are rare in the load: a burst is in flight when the instance dies.
        mark(`burst of ${sale.cancelBurst(options.cancelBurst)} cancels`);
        await sleep(20);
      }
      fleet.kill9(instance);
      mark(`kill -9 ${instance.id} (pid ${instance.child.pid})`);
      await sleep(options.downMs);
      await fleet.restart(instance);
      mark(`${instance.id} restarted (pid ${instance.child.pid})`);
      recovered();
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'scale-out',
    about: 'no fault: 2 book + 2 processors; a third processor joins mid-load, then one leaves (SIGTERM)',
    repeated: false,
    spanMs: (options) => options.loadMs / 2,
    async inject({ fleet, options, mark, recovered }) {
      const joined = await fleet.start('booking-processor');
      mark(`${joined.id} started (rebalance)`);
      await sleep(options.loadMs / 4);
      const leaving = fleet.of('booking-processor')[0];
      if (!leaving) throw new Error('no booking-processor');
      mark(`${leaving.id} stopping gracefully (SIGTERM)`);
      await fleet.stop(leaving);
      mark(`${leaving.id} left its group`);
      recovered();
    },
  },
  killScenario('book'),
  killScenario('cancel'),
  killScenario('booking-processor'),
  killScenario('seat-projector'),
  killScenario('booking-status'),
  {
    name: 'pause-processor',
    about:
      'SIGSTOP one booking-processor past its 10 s session timeout, a burst of cancels meanwhile, SIGCONT',
    repeated: true,
    spanMs: (options) => options.pauseMs,
    async inject({ fleet, sale, options, mark, recovered }) {
      const instance = fleet.of('booking-processor')[0];
      if (!instance) throw new Error('no booking-processor');
      fleet.pause(instance);
      mark(`SIGSTOP ${instance.id}`);
      await sleep(Math.min(2_000, options.pauseMs / 4));
      mark(`burst of ${sale.cancelBurst(options.cancelBurst)} cancels`);
      await sleep(options.pauseMs - Math.min(2_000, options.pauseMs / 4));
      fleet.resume(instance);
      mark(`SIGCONT ${instance.id}`);
      recovered();
    },
  },
  {
    name: 'stall-broker',
    about: "SIGSTOP the Kafka broker past the producer's 30 s request timeout, then SIGCONT",
    repeated: true,
    spanMs: (options) => options.stallMs,
    async inject({ kafka, options, mark, recovered }) {
      kafka.pause();
      mark('SIGSTOP broker');
      await sleep(options.stallMs);
      kafka.resume();
      mark('SIGCONT broker');
      recovered();
    },
  },
  {
    name: 'restart-broker',
    about: 'stop the Kafka broker (SIGTERM, controlled shutdown) and start it again',
    repeated: true,
    spanMs: (options) => options.downMs + 15_000,
    async inject({ kafka, options, mark, recovered }) {
      mark('broker stopping');
      await kafka.stop();
      mark('broker stopped');
      await sleep(options.downMs);
      await kafka.start();
      mark('broker serving again');
      recovered();
    },
  },
  {
    name: 'restart-redis',
    about: 'restart Redis: it keeps nothing on disk, so every hold, key and cache entry is gone',
    repeated: true,
    spanMs: (options) => options.downMs,
    async inject({ redis, options, mark, recovered }) {
      await redis.stop();
      mark('redis stopped');
      await sleep(options.downMs);
      await redis.start();
      mark('redis started (empty)');
      recovered();
    },
  },
  {
    name: 'restart-postgres',
    about: 'restart Postgres (pg_ctl stop -m fast, then start)',
    repeated: true,
    spanMs: (options) => options.downMs + 5_000,
    async inject({ postgres, options, mark, recovered }) {
      await postgres.stop('fast');
      mark('postgres stopped');
      await sleep(options.downMs);
      await postgres.start();
      mark('postgres started');
      recovered();
    },
  },
  {
    name: 'redis-cluster',
    about: 'no fault: the same load against a 3-master Redis Cluster (REDIS_CLUSTER_NODES)',
    repeated: false,
    redisCluster: true,
    spanMs: () => 0,
    async inject({ mark, recovered }) {
      mark('no fault');
      recovered();
    },
  },
  {
    name: 'self-test',
    about:
      'no fault, then damage planted behind the system: a seat row that disagrees with its booking, a booking for a buyer told 409, a free seat marked booked in Redis; checks 1 and 3 must FAIL (5 and 6 too unless the reconciler heals Redis first)',
    repeated: false,
    hidden: true,
    spanMs: () => 0,
    async inject({ mark, recovered }) {
      mark('no fault');
      recovered();
    },
    async tamper({ pool, redis, eventId, sale, mark }) {
      const refused = sale.books.find((logical) => logical.final?.status === 409);
      const { rows: free } = await pool.query<{ id: number }>(
        'select id from seats where event_id = $1 and not is_booked order by id limit 2',
        [eventId],
      );
      const [forRefused, forRedis] = free;
      if (refused && forRefused) {
        await pool.query(
          `insert into bookings (user_id, event_id, seat_id, status) values ($1, $2, $3, 'CONFIRMED')`,
          [refused.userId, eventId, forRefused.id],
        );
        await pool.query('update seats set is_booked = true, booked_by = $1 where id = $2', [
          refused.userId,
          forRefused.id,
        ]);
        mark(`planted: seat ${forRefused.id} booked for user ${refused.userId}, who was told 409`);
      }
      const { rows: booked } = await pool.query<{ id: number }>(
        'update seats set booked_by = null where id = (select min(id) from seats where event_id = $1 and is_booked and id <> $2) returning id',
        [eventId, forRefused?.id ?? 0],
      );
      mark(`planted: seat ${booked[0]?.id} booked with no owner in its row`);
      if (forRedis) {
        await run('redis-cli', ['-p', String(redis.port), 'set', seatKeys.seat(eventId, forRedis.id), 'b:1']);
        mark(`planted: free seat ${forRedis.id} booked in Redis`);
      }
    },
  },
];
