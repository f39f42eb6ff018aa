import { beforeEach, describe, expect, it } from 'vitest';
import { resolveConnectionManagerOptions, type ConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';
import { FakeSocket } from '../../../test/support/domain-fixture.js';

let seq = 0;
function conn(userId: string, tenantId: string, ip = '10.0.0.1'): ClientConnection & { socket: FakeSocket } {
  seq++;
  return new ClientConnection(
    `k${seq}`,
    `s${seq}`,
    { userId, tenantId, expiresAt: Date.now() + 3_600_000 },
    ip,
    new FakeSocket(),
    Date.now(),
  ) as ClientConnection & {
    socket: FakeSocket;
  };
}

function service(options: Partial<ConnectionManagerOptions> = {}): ConnectionService {
  return new ConnectionService(resolveConnectionManagerOptions({ jwt: { secret: 'unit-test-secret' }, ...options }));
}

/** Registers a connection the way an upgrade does: reserve a slot first. */
function admit(svc: ConnectionService, c: ClientConnection): void {
  expect(svc.tryReserve()).toBe(true);
  svc.register(c);
}

const idsOf = (list: ClientConnection[]) => list.map((c) => c.id).sort();

describe('ConnectionService: connection budget (maxConnections)', () => {
  it('tryReserve grants up to maxConnections slots, then refuses', () => {
    const svc = service({ maxConnections: 2 });
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(false);
    expect(svc.tryReserve()).toBe(false);
  });

  it('releaseReservation gives a slot back', () => {
    const svc = service({ maxConnections: 2 });
    svc.tryReserve();
    svc.tryReserve();
    svc.releaseReservation();
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(false);
  });

  it('register consumes the reservation: the slot stays taken by the open connection, not twice', () => {
    const svc = service({ maxConnections: 2 });
    admit(svc, conn('u1', 't1'));
    expect(svc.count).toBe(1);
    // One registered + one reserved = full.
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(false);
    svc.register(conn('u2', 't1'));
    expect(svc.count).toBe(2);
    expect(svc.tryReserve()).toBe(false);
  });

  it('unregister frees the slot of a closed connection', () => {
    const svc = service({ maxConnections: 2 });
    const a = conn('u1', 't1');
    admit(svc, a);
    admit(svc, conn('u2', 't1'));
    expect(svc.tryReserve()).toBe(false);
    svc.unregister(a);
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(false);
  });

  it('extra releases never create credit beyond maxConnections', () => {
    const svc = service({ maxConnections: 2 });
    svc.releaseReservation();
    svc.releaseReservation();
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(false);
  });

  it('unregistering the same connection twice frees one slot only', () => {
    const svc = service({ maxConnections: 2 });
    const a = conn('u1', 't1');
    admit(svc, a);
    admit(svc, conn('u2', 't1'));
    svc.unregister(a);
    svc.unregister(a);
    expect(svc.count).toBe(1);
    expect(svc.tryReserve()).toBe(true);
    expect(svc.tryReserve()).toBe(false);
  });

  it("a reservation given back after a failed upgrade does not free a registered connection's slot", () => {
    const svc = service({ maxConnections: 1 });
    admit(svc, conn('u1', 't1'));
    svc.releaseReservation(); // e.g. a late socket-close callback of an already registered upgrade
    expect(svc.tryReserve()).toBe(false);
  });
});

describe('ConnectionService: who is connected', () => {
  let svc: ConnectionService;
  let ann1: ClientConnection, ann2: ClientConnection, bob: ClientConnection, annOtherTenant: ClientConnection;
  beforeEach(() => {
    svc = service();
    ann1 = conn('ann', 't1');
    ann2 = conn('ann', 't1');
    bob = conn('bob', 't1');
    annOtherTenant = conn('ann', 't2');
    for (const c of [ann1, ann2, bob, annOtherTenant]) admit(svc, c);
  });

  it('indexes connections by id, by user (tenant-scoped) and by tenant, with counts per tenant', () => {
    expect(svc.count).toBe(4);
    expect(svc.get(ann1.id)).toBe(ann1);
    expect(svc.get('nope')).toBeUndefined();
    expect(idsOf(svc.byUserId('t1', 'ann'))).toEqual(idsOf([ann1, ann2]));
    expect(idsOf(svc.byUserId('t2', 'ann'))).toEqual([annOtherTenant.id]);
    expect(svc.byUserId('t1', 'nobody')).toEqual([]);
    expect(svc.byUserId('t3', 'ann')).toEqual([]);
    expect(idsOf(svc.byTenant('t1'))).toEqual(idsOf([ann1, ann2, bob]));
    expect(idsOf(svc.byTenant('t2'))).toEqual([annOtherTenant.id]);
    expect(svc.byTenant('t3')).toEqual([]);
    expect(new Map(svc.countsByTenant())).toEqual(
      new Map([
        ['t1', 3],
        ['t2', 1],
      ]),
    );
    expect(idsOf([...svc.all()])).toEqual(idsOf([ann1, ann2, bob, annOtherTenant]));
  });

  it('user ids that would collide when concatenated stay apart', () => {
    const tricky = conn('b', 't1a');
    const other = conn('1ab', 't');
    admit(svc, tricky);
    admit(svc, other);
    expect(idsOf(svc.byUserId('t1a', 'b'))).toEqual([tricky.id]);
    expect(idsOf(svc.byUserId('t', '1ab'))).toEqual([other.id]);
  });

  it('unregister updates every index and drops empty entries', () => {
    svc.unregister(ann1);
    expect(svc.count).toBe(3);
    expect(svc.get(ann1.id)).toBeUndefined();
    expect(idsOf(svc.byUserId('t1', 'ann'))).toEqual([ann2.id]);
    expect(new Map(svc.countsByTenant())).toEqual(
      new Map([
        ['t1', 2],
        ['t2', 1],
      ]),
    );

    svc.unregister(ann2);
    svc.unregister(annOtherTenant);
    expect(svc.byUserId('t1', 'ann')).toEqual([]);
    expect(svc.byUserId('t2', 'ann')).toEqual([]);
    expect(svc.byTenant('t2')).toEqual([]);
    expect(new Map(svc.countsByTenant())).toEqual(new Map([['t1', 1]]));
    expect(svc.countsByTenant().has('t2')).toBe(false);
  });

  it('unregister is idempotent: a second call changes no count', () => {
    svc.unregister(bob);
    svc.unregister(bob);
    expect(svc.count).toBe(3);
    expect(new Map(svc.countsByTenant())).toEqual(
      new Map([
        ['t1', 2],
        ['t2', 1],
      ]),
    );
    expect(idsOf(svc.byUserId('t1', 'ann'))).toEqual(idsOf([ann1, ann2]));
  });
});

describe('ConnectionService: send and disconnect', () => {
  it('send delivers the JSON frame to an open connection only', () => {
    const svc = service();
    const a = conn('u1', 't1');
    const b = conn('u2', 't1');
    admit(svc, a);
    admit(svc, b);
    expect(svc.send(a.id, { type: 'notice', n: 1 })).toBe(true);
    expect(a.socket.sent.map(String)).toEqual(['{"type":"notice","n":1}']);
    expect(b.socket.sent).toEqual([]);
    expect(svc.send('unknown', { type: 'notice' })).toBe(false);
    a.socket.readyState = 3;
    expect(svc.send(a.id, { type: 'notice' })).toBe(false);
    b.closed = true;
    expect(svc.send(b.id, { type: 'notice' })).toBe(false);
    expect(a.socket.sent).toHaveLength(1);
    expect(b.socket.sent).toEqual([]);
  });

  it('disconnectUser closes every connection of the user with the code and reason, not resumable; tenantId limits it', () => {
    const svc = service();
    const [a1, a2, aT2, bob] = [conn('ann', 't1'), conn('ann', 't1'), conn('ann', 't2'), conn('bob', 't1')];
    for (const c of [a1, a2, aT2, bob]) admit(svc, c);

    expect(svc.disconnectUser('ann', 4010, 'banned', 't1')).toBe(2);
    for (const c of [a1, a2]) {
      expect(c.socket.closedWith).toEqual({ code: 4010, reason: 'banned' });
      expect(c.closeCause).toBe('disconnected_by_server');
      expect(c.resumable).toBe(false);
    }
    expect(aT2.socket.closedWith).toBeUndefined();
    expect(bob.socket.closedWith).toBeUndefined();

    expect(svc.disconnectUser('nobody', 4010, 'banned')).toBe(0);
    const all = service();
    const [x1, x2, y] = [conn('ann', 't1'), conn('ann', 't2'), conn('bob', 't1')];
    for (const c of [x1, x2, y]) admit(all, c);
    expect(all.disconnectUser('ann', 4010, 'banned')).toBe(2);
    expect(x1.socket.closedWith).toEqual({ code: 4010, reason: 'banned' });
    expect(x2.socket.closedWith).toEqual({ code: 4010, reason: 'banned' });
    expect(y.socket.closedWith).toBeUndefined();
  });

  it('disconnect closes one connection; false for an unknown id', () => {
    const svc = service();
    const a = conn('u1', 't1');
    admit(svc, a);
    expect(svc.disconnect(a.id, 4011, 'kicked')).toBe(true);
    expect(a.socket.closedWith).toEqual({ code: 4011, reason: 'kicked' });
    expect(a.closeCause).toBe('disconnected_by_server');
    expect(svc.disconnect('unknown', 4011, 'kicked')).toBe(false);
  });

  it('the first recorded close cause wins; terminate destroys the socket without a close frame', () => {
    const svc = service();
    const a = conn('u1', 't1');
    const b = conn('u2', 't1');
    admit(svc, a);
    admit(svc, b);
    svc.close(a, { code: 1008, reason: 'too many invalid frames', cause: 'policy_violation', resumable: false });
    svc.close(a, { code: 1000, reason: '', cause: 'server_shutdown', resumable: true });
    expect(a.closeCause).toBe('policy_violation');
    expect(a.resumable).toBe(false);

    svc.terminate(b, { cause: 'heartbeat_timeout', resumable: true });
    expect(b.socket.terminated).toBe(true);
    expect(b.socket.closedWith).toBeUndefined();
    expect(b.closeCause).toBe('heartbeat_timeout');
    expect(b.resumable).toBe(true);
  });
});
