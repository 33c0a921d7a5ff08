#!/usr/bin/env python3
"""A field of the JSON object on the last line of a file (udpseq and the other
tools print one such line).

  jsonfield.py FILE KEY [INDEX]
      Prints the value of KEY, or its element INDEX when it is a list;
      exits 1 when the file, the object or the key is not there.
"""
import json
import sys


def field(text, key, index=None):
    """KEY of the object on TEXT's last non-empty line (its element INDEX if given)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no JSON line")
    v = json.loads(lines[-1])[key]
    return v if index is None else v[index]


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit("usage: jsonfield.py FILE KEY [INDEX]")
    try:
        with open(argv[1]) as f:
            v = field(f.read(), argv[2], int(argv[3]) if len(argv) == 4 else None)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        sys.exit("%s: no field %s: %s" % (argv[1], argv[2], e.__class__.__name__))
    print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
