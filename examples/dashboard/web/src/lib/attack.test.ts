import { describe, expect, it } from 'vitest';
import {
  attackOptions,
  matchesAttack,
  normalizeTactic,
  normalizeTechnique,
  otherTags,
  tacticOf,
  tacticsOf,
  techniqueMatches,
  techniqueOf,
  techniquesOf,
} from './attack';

const tags = ['attack.credential-access', 'attack.t1110', 'attack.t1110.003', 'attack.initial-access', 'cve.2021-44228'];

describe('ATT&CK tags', () => {
  it('a technique is attack.t + digits, with a sub-technique after a dot', () => {
    expect(techniqueOf('attack.t1110')).toBe('T1110');
    expect(techniqueOf('attack.t1110.003')).toBe('T1110.003');
    expect(techniqueOf('attack.T1078')).toBe('T1078');
    expect(techniqueOf('attack.t1')).toBe('T1');
    expect(techniqueOf('attack.t1110.')).toBeNull();
    expect(techniqueOf('attack.t')).toBeNull();
    expect(techniqueOf('attack.ta0006')).toBeNull();
    expect(techniqueOf('t1110')).toBeNull();
    expect(techniqueOf('cve.2021-44228')).toBeNull();
  });

  it('a tactic is any other attack.<name>, in lower case', () => {
    expect(tacticOf('attack.credential-access')).toBe('credential-access');
    expect(tacticOf('attack.Lateral-Movement')).toBe('lateral-movement');
    expect(tacticOf('attack.t1110')).toBeNull();
    expect(tacticOf('attack.t1110.003')).toBeNull();
    expect(tacticOf('attack.')).toBeNull();
    expect(tacticOf('cve.2021-44228')).toBeNull();
    // Not a technique ID: t followed by letters is a name like any other.
    expect(tacticOf('attack.ta0006')).toBe('ta0006');
  });

  it('reads the techniques, tactics and other tags of a list, each once, in order', () => {
    expect(techniquesOf(tags)).toEqual(['T1110', 'T1110.003']);
    expect(tacticsOf(tags)).toEqual(['credential-access', 'initial-access']);
    expect(otherTags(tags)).toEqual(['cve.2021-44228']);
    expect(techniquesOf(['attack.t1110', 'attack.T1110'])).toEqual(['T1110']);
    expect(techniquesOf(undefined)).toEqual([]);
    expect(tacticsOf(null)).toEqual([]);
  });

  it('a technique filter takes its sub-techniques; a sub-technique filter only itself', () => {
    expect(techniqueMatches('T1110', 'T1110')).toBe(true);
    expect(techniqueMatches('T1110.003', 'T1110')).toBe(true);
    expect(techniqueMatches('T1110.003', 't1110')).toBe(true);
    expect(techniqueMatches('T1110', 'T1110.003')).toBe(false);
    expect(techniqueMatches('T1110.001', 'T1110.003')).toBe(false);
    expect(techniqueMatches('T11100', 'T1110')).toBe(false);
    expect(techniqueMatches('T1110.0031', 'T1110.003')).toBe(false);
  });

  it('filters alerts by tactic and technique (null: any), both when both are set', () => {
    expect(matchesAttack(tags, null, null)).toBe(true);
    expect(matchesAttack(undefined, null, null)).toBe(true);
    expect(matchesAttack(tags, 'credential-access', null)).toBe(true);
    expect(matchesAttack(tags, 'persistence', null)).toBe(false);
    expect(matchesAttack(['attack.t1110.003'], null, 'T1110')).toBe(true);
    expect(matchesAttack(['attack.t1110'], null, 'T1110.003')).toBe(false);
    expect(matchesAttack(['attack.t11100'], null, 'T1110')).toBe(false);
    expect(matchesAttack(undefined, null, 'T1110')).toBe(false);
    expect(matchesAttack(undefined, 'credential-access', null)).toBe(false);
    expect(matchesAttack(tags, 'credential-access', 'T1110.003')).toBe(true);
    expect(matchesAttack(tags, 'persistence', 'T1110')).toBe(false);
    expect(matchesAttack(tags, 'credential-access', 'T1078')).toBe(false);
  });

  it('lists the options of the alerts present, a sub-technique bringing its parent, in ID order', () => {
    expect(attackOptions([{ tags }, { tags: ['attack.t1078', 'attack.persistence'] }, { tags: ['attack.t1021.002'] }, {}, { tags: null }])).toEqual({
      tactics: ['credential-access', 'initial-access', 'persistence'],
      techniques: ['T1021', 'T1021.002', 'T1078', 'T1110', 'T1110.003'],
    });
    // Numeric, not text order: T999 before T1000, T1.2 before T1.10.
    expect(attackOptions([{ tags: ['attack.t1000', 'attack.t999', 'attack.t1.10', 'attack.t1.2'] }]).techniques).toEqual([
      'T1',
      'T1.2',
      'T1.10',
      'T999',
      'T1000',
    ]);
    expect(attackOptions([])).toEqual({ tactics: [], techniques: [] });
  });

  it('normalizes URL values: a technique in upper case, a tactic in lower case, anything else dropped', () => {
    expect(normalizeTechnique('t1110.003')).toBe('T1110.003');
    expect(normalizeTechnique(' T1110 ')).toBe('T1110');
    expect(normalizeTechnique('T1110.')).toBeNull();
    expect(normalizeTechnique('credential-access')).toBeNull();
    expect(normalizeTechnique(null)).toBeNull();
    expect(normalizeTactic('Credential-Access')).toBe('credential-access');
    expect(normalizeTactic('attack.persistence')).toBe('persistence');
    expect(normalizeTactic('t1110')).toBeNull();
    expect(normalizeTactic('')).toBeNull();
    expect(normalizeTactic(undefined)).toBeNull();
  });
});
