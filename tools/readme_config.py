#!/usr/bin/env python3
"""Rewrites the README's configuration table from `novad config` (the one source of truth)."""
import subprocess, sys
novad = sys.argv[1] if len(sys.argv) > 1 else 'build/cmd/novad'
table = subprocess.run([novad, 'config'], check=True, capture_output=True, text=True).stdout.strip()
lines = open('README.md').read().split('\n')
start = next(i for i, l in enumerate(lines) if l.startswith('| key | default | meaning |'))
end = start
while end < len(lines) and lines[end].startswith('|'):
    end += 1
lines[start:end] = table.split('\n')
open('README.md', 'w').write('\n'.join(lines))
