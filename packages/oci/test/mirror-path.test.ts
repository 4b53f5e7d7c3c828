import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryOfPathComponent, registryPathComponent } from '../src/index.ts';

const none = () => false;

describe('registry in a mirror path', () => {
  it('writes a registry as a path component containers/image accepts', () => {
    assert.equal(registryPathComponent('quay.io'), 'quay.io');
    assert.equal(registryPathComponent('index.docker.io'), 'docker.io');
    assert.equal(registryPathComponent('Registry.Example:5000'), 'registry.example_5000');
    assert.equal(registryPathComponent('localhost:5000'), 'localhost_5000');
    assert.throws(() => registryPathComponent('[::1]:5000'), /IPv6/);
    assert.throws(() => registryPathComponent('not a registry'), /invalid registry/);
  });

  it('reads back what it writes', () => {
    for (const registry of ['quay.io', 'docker.io', 'registry.example:5000', 'localhost:5000', 'localhost']) {
      assert.equal(registryOfPathComponent(registryPathComponent(registry), none), registry);
    }
  });

  it('takes a component for a registry by Docker rule, or when configured', () => {
    assert.equal(registryOfPathComponent('library', none), undefined);
    assert.equal(registryOfPathComponent('my_app_2', none), undefined);
    assert.equal(
      registryOfPathComponent('mirror', (name) => name === 'mirror'),
      'mirror',
    );
    assert.equal(registryOfPathComponent('a.b', none), 'a.b');
    assert.equal(
      registryOfPathComponent('mirror_5000', (name) => name === 'mirror:5000'),
      'mirror:5000',
    );
  });
});
