import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { createFunctionApp } from '../../lib/app.ts';
import { closeServices } from '../../lib/services.ts';
import { createTestEvent, testServices } from '../../test/support.ts';
import events from './index.ts';

const services = testServices();
after(() => closeServices(services));

it('GET /events lists events in the seed shape', async () => {
  const { eventId } = await createTestEvent(services, 3, 'Listed');
  const response = await createFunctionApp(events, services).request('/events');
  assert.equal(response.status, 200);
  const body = (await response.json()) as Record<string, unknown>[];
  const listed = body.find((event) => event.id === eventId);
  assert.ok(listed, 'the new event is listed');
  assert.deepEqual(Object.keys(listed).sort(), [
    'created_at',
    'date',
    'id',
    'location',
    'name',
    'total_seats',
  ]);
  assert.equal(listed.total_seats, 3);
  assert.equal(listed.date, '2030-01-01T20:00:00.000Z');
});
