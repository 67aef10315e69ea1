import { describe, expect, it } from 'vitest';
import { attackOptions, matchesAttack, tacticsOf, techniquesOf } from './attack';

const tags = ['attack.credential-access', 'attack.t1110', 'attack.t1110.003', 'attack.initial-access', 'cve.2021-44228'];

describe('ATT&CK tags', () => {
  it('reads techniques and tactics', () => {
    expect(techniquesOf(tags)).toEqual(['T1110', 'T1110.003']);
    expect(tacticsOf(tags)).toEqual(['credential-access', 'initial-access']);
    expect(techniquesOf(undefined)).toEqual([]);
    expect(techniquesOf(['attack.T1078'])).toEqual(['T1078']);
  });
  it('filters by tactic and technique, sub-techniques included', () => {
    expect(matchesAttack(tags, null, null)).toBe(true);
    expect(matchesAttack(tags, 'credential-access', null)).toBe(true);
    expect(matchesAttack(tags, 'persistence', null)).toBe(false);
    expect(matchesAttack(['attack.t1110.003'], null, 'T1110')).toBe(true);
    expect(matchesAttack(['attack.t1110'], null, 'T1110.003')).toBe(false);
    expect(matchesAttack(['attack.t11100'], null, 'T1110')).toBe(false);
    expect(matchesAttack(undefined, null, 'T1110')).toBe(false);
  });
  it('lists the options of alerts', () => {
    expect(attackOptions([{ tags }, { tags: ['attack.t1078'] }, {}])).toEqual({
      tactics: ['credential-access', 'initial-access'],
      techniques: ['T1078', 'T1110', 'T1110.003'],
    });
  });
});

import { silenceRequest } from './api';

describe('silence form', () => {
  it('makes the request body, or names what is missing', () => {
    expect(silenceRequest({ rule: ' burst ', key: 'alice', duration: '2h', createdBy: 'ann', comment: 'pen test' })).toEqual({
      matchers: [
        { name: 'rule', op: '=', value: 'burst' },
        { name: 'key', op: '=', value: 'alice' },
      ],
      duration: '2h',
      createdBy: 'ann',
      comment: 'pen test',
    });
    expect(silenceRequest({ rule: '', key: ' ', duration: '2h', createdBy: 'ann', comment: 'x' })).toBe('give a rule or a key');
    expect(silenceRequest({ rule: 'r', key: '', duration: '2h', createdBy: '', comment: 'x' })).toBe('give an author');
    expect(silenceRequest({ rule: 'r', key: '', duration: '2h', createdBy: 'a', comment: '' })).toBe('give a comment');
  });
});
