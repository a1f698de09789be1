#!/usr/bin/env python3
"""Regenerates crates/core/data/area_codes.txt from libphonenumber's data as the `phonenumbers`
package (PyPI, Apache-2.0) ships it: each North American area code with every time zone any of
its prefixes is in, and the state or province it belongs to.

    python3 -m venv /tmp/pn && /tmp/pn/bin/pip install phonenumbers==9.0.43
    /tmp/pn/bin/python scripts/area-codes.py > crates/core/data/area_codes.txt
"""

import collections
import importlib.metadata

from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.tzdata import TIMEZONE_DATA

# Where geocoding names only cities ("Bridgeport, CT"), the state from their abbreviation.
ABBREVIATIONS = {"CT": "Connecticut", "CA": "California", "VI": "US Virgin Islands", "TX": "Texas",
                 "NY": "New York", "ON": "Ontario"}

zones = collections.defaultdict(set)
for prefix, names in TIMEZONE_DATA.items():
    if prefix.startswith("1") and len(prefix) >= 4:
        zones[prefix[1:4]].update(names)
places = {}
cities = collections.defaultdict(collections.Counter)
for prefix, names in GEOCODE_DATA.items():
    if not prefix.startswith("1") or "en" not in names:
        continue
    if len(prefix) == 4:
        places[prefix[1:]] = names["en"]
    elif ", " in names["en"]:
        cities[prefix[1:4]][names["en"].rsplit(", ", 1)[1]] += 1
for npa, counted in cities.items():
    if npa not in places:
        places[npa] = ABBREVIATIONS.get(counted.most_common(1)[0][0], "")

version = importlib.metadata.version("phonenumbers")
print("# North American area codes: the time zones numbers in each are found in, and where each is.")
print("# Derived from libphonenumber's time-zone map (resources/timezones/map_data.txt) and its English")
print(f"# geocoding data (resources/geocoding/en/1.txt), as shipped in the `phonenumbers` package {version}")
print("# (PyPI): an area code's zones are every zone any of its prefixes is in.")
print("# Copyright (C) 2012 The Libphonenumber Authors. Licensed under the Apache License, Version 2.0:")
print("# see LICENSE-libphonenumber beside this file. Regenerate with scripts/area-codes.py.")
print("# area code|zone&zone…|place")
for npa in sorted(zones):
    print(f"{npa}|{'&'.join(sorted(zones[npa]))}|{places.get(npa, '')}")
