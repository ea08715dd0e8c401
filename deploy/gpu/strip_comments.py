"""Copies a C/C++ source from stdin to stdout without its comments (string, character and raw-string
literals kept verbatim, digit separators recognised), dropping lines left blank. Used by
pack_runtime_deps.sh to shrink carried headers; the code itself is unchanged."""
import sys


def strip(src):
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '/' and i + 1 < n and src[i + 1] == '/':
            while i < n and src[i] != '\n':
                i += 1
            continue
        if c == '/' and i + 1 < n and src[i + 1] == '*':
            j = src.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append('\n' * src.count('\n', i, j) or ' ')
            i = j
            continue
        if c == 'R' and src.startswith('R"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == '_')):
            k = src.find('(', i + 2)
            end = ')' + src[i + 2:k] + '"'
            j = src.find(end, k)
            j = n if j < 0 else j + len(end)
            out.append(src[i:j])
            i = j
            continue
        if c == '"' or (c == "'" and not (i > 0 and src[i - 1].isalnum() and i + 1 < n and src[i + 1].isalnum())):
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == '\\' else 1
            out.append(src[i:j + 1])
            i = j + 1
            continue
        out.append(c)
        i += 1
    return '\n'.join(line.rstrip() for line in ''.join(out).split('\n') if line.strip()) + '\n'


sys.stdout.write(strip(sys.stdin.read()))
