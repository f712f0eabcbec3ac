import { describe, expect, it } from 'vitest';
import { Namespace } from '../pipeline/namespace.ts';

describe('Namespace', () => {
  it('derives every resource name from the namespace', () => {
    const ns = new Namespace('t_ab12');
    expect(ns.database).toBe('t_ab12');
    expect(ns.logStream).toBe('T_AB12_LOG');
    expect(ns.logSubject(3)).toBe('t_ab12.log.3');
    expect(ns.logSubjects).toBe('t_ab12.log.*');
    expect(ns.decisionsStream).toBe('T_AB12_DECISIONS');
    expect(ns.decisionsSubject(0)).toBe('t_ab12.decisions.0');
    expect(ns.deliveriesStream).toBe('T_AB12_DELIVERIES');
    expect(ns.deliverySubject('sms')).toBe('t_ab12.deliveries.sms');
    expect(ns.heldStream).toBe('T_AB12_HELD');
    expect(ns.heldSubject('email')).toBe('t_ab12.held.email');
    expect(ns.streams).toContain(ns.heldStream);
  });

  it('puts every key of a partition under one Redis Cluster hash tag', () => {
    const ns = new Namespace('nudge');
    expect(ns.redisKey(7, 'user', 'u1')).toBe('nudge:{p7}:user:u1');
    expect(ns.redisKey(7, 'applied')).toBe('nudge:{p7}:applied');
  });

  it('two namespaces share no name', () => {
    const [a, b] = [new Namespace('nudge'), new Namespace('t_1')];
    expect(a.logStream).not.toBe(b.logStream);
    expect(a.redisKey(0, 'x')).not.toBe(b.redisKey(0, 'x'));
  });

  it.each(['', 'Nudge', '1abc', 'a.b', 'a-b', 'x'.repeat(41)])('refuses %j', (name) => {
    expect(() => new Namespace(name)).toThrow('invalid namespace');
  });
});
