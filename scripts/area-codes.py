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

# Where geocoding names a city ("San Antonio, TX"), or only cities below the area code, the state
# or province from its abbreviation, so that state rules (data/quiet_hours.txt) find it.
ABBREVIATIONS = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "Washington D.C.", "FL": "Florida",
    "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
    "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
    "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
    "VT": "Vermont", "VA": "Virginia", "WA": "Washington State", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico", "VI": "US Virgin Islands",
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia/Prince Edward Island", "ON": "Ontario",
    "QC": "Quebec", "SK": "Saskatchewan",
}
# Spellings in the geocoding data, as the rest of it spells them.
SPELLINGS = {"British Colombia": "British Columbia"}


def place(name):
    """A state or province from a geocoding name: the name itself, or a city's abbreviation."""
    if ", " in name:
        return ABBREVIATIONS.get(name.rsplit(", ", 1)[1], name)
    return SPELLINGS.get(name, name)


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
        places[prefix[1:]] = place(names["en"])
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
