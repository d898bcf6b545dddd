#!/usr/bin/env python3
"""Embeds a file into C as `const char NAME[]` and `const size_t NAME_len`.
Usage: embed_file.py NAME INPUT OUTPUT"""
import sys

name, src, dst = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* generated from %s by tools/embed_file.py; do not edit */\n' % src.split('/')[-1])
    f.write('#include <stddef.h>\n')
    f.write('const char %s[] = {\n' % name)
    for i in range(0, len(data), 16):
        f.write('    ' + ', '.join(str(b) for b in data[i:i + 16]) + ',\n')
    f.write('    0};\n')
    f.write('const size_t %s_len = %d;\n' % (name, len(data)))
