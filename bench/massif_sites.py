#!/usr/bin/env python3
"""massif_sites.py: heap in use by allocation site in valgrind massif's detailed snapshots
(written by `vgdb --pid=PID detailed_snapshot FILE`), for bench/massif-idle.sh and bench/soak.sh.

  massif_sites.py per-conn EMPTY HELD CONNS
      the difference between two snapshots per connection, by the allocator's caller and,
      under it, that caller's caller (massif-idle.sh: before the connections, with them held)
  massif_sites.py diff BEFORE AFTER LABEL
      the difference in bytes, by the same sites (soak.sh: after an early and the last round)
"""
import re
import sys


# Frames of allocators that hand out slab items: libwebsockets' hook and madang's own.
ALLOCATOR_FRAMES = {'zone_alloc', 'slab_alloc', 'slab_malloc', 'slab_malloc_brief', 'slab_zalloc',
                    'slab_realloc', 'lws_alloc_cb', '_realloc', 'lws_realloc', 'lws_zalloc',
                    'lws_malloc', 'str_dup'}


def tree(path):
    """(heap bytes, malloc's extra bytes, {site: bytes}) of a detailed snapshot.

    A snapshot is a tree of "n<kids>: <bytes> <place>" lines, indented one space per level;
    depth 1 is who called the allocator, depth 2 its caller. A site is the tuple of names down
    to its depth. A function of a library without symbols shows as "???": the library's name
    is kept instead."""
    sites, total, extra, stack = {}, 0, 0, []
    with open(path) as f:
        for line in f:
            m = re.match(r'^( *)n(\d+): (\d+) (.*)$', line)
            if not m:
                t = re.match(r'^mem_heap_B=(\d+)', line)
                if t:
                    total = int(t.group(1))
                t = re.match(r'^mem_heap_extra_B=(\d+)', line)
                if t:
                    extra = int(t.group(1))
                continue
            depth, nbytes = len(m.group(1)), int(m.group(3))
            place = re.sub(r'^0x[0-9A-F]+: ', '', m.group(4))
            name = place.split(' (')[0]
            lib = re.search(r'\(in (?:.*/)?([^/)]+)\)', place)
            if name == '???' and lib:
                name = '??? in ' + re.sub(r'\.so.*', '', lib.group(1))
            del stack[depth:]
            stack.append(name)
            # madang's slab items (common/slab.c) are heap blocks to massif, made in the
            # allocator's own frames: a site is named by the first frames past them, each
            # block counted once, at the frame that completes its site's name.
            path = [x for x in stack[1:depth + 1] if x not in ALLOCATOR_FRAMES]
            if depth >= 1 and name not in ALLOCATOR_FRAMES and 1 <= len(path) <= 2:
                key = tuple(path)
                sites[key] = sites.get(key, 0) + nbytes
    return total, extra, sites


def per_conn(empty, held, n):
    e_total, e_extra, e = tree(empty)
    h_total, h_extra, h = tree(held)
    print(f"heap: {e_total} bytes empty, {h_total} with {n} connections: "
          f"{(h_total - e_total) / n:.0f} bytes per connection; malloc's headers and rounding "
          f"{(h_extra - e_extra) / n:.0f} more")
    per = {k: (h.get(k, 0) - e.get(k, 0)) / n for k in h}
    for k1 in sorted((k for k in per if len(k) == 1), key=lambda k: -per[k]):
        if per[k1] < 2:
            continue
        print(f"{per[k1]:8.0f}  {k1[0]}")
        for k2 in sorted((k for k in per if len(k) == 2 and k[0] == k1[0]), key=lambda k: -per[k]):
            if per[k2] >= 2:
                print(f"{per[k2]:14.0f}  < {k2[1]}")


def diff(before, after, label):
    a_total, _, a = tree(before)
    b_total, _, b = tree(after)
    print(f"{label}: heap in use {a_total} bytes, then {b_total} bytes ({b_total - a_total:+d})")
    for k in sorted(set(a) | set(b), key=lambda k: (-abs(b.get(k, 0) - a.get(k, 0)), k)):
        d = b.get(k, 0) - a.get(k, 0)
        if d != 0:
            print(f"{d:+10d}  {' < '.join(k)}")


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == 'per-conn':
        per_conn(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == 'diff':
        diff(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
