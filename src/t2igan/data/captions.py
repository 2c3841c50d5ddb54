"""Captions of synthetic scenes: a small grammar that writes true captions, and the parser that
reads back which attributes a caption (or a prompt a user types in the same vocabulary) states.

Both sides share the word tables below, so every synonym the writer uses is one the parser knows.
"""

from __future__ import annotations

import random
import re

# Canonical value -> surface forms. The first form is the plain one.
COLOR_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("black",), "white": ("white",), "orange": ("orange", "ginger"),
    "grey": ("grey", "gray"), "brown": ("brown",), "cream": ("cream", "cream-colored"),
    "red": ("red",), "blue": ("blue",), "yellow": ("yellow",), "green": ("green",),
    "silver": ("silver",), "purple": ("purple", "violet"),
}
EYE_WORDS = {"green": ("green",), "blue": ("blue",), "yellow": ("yellow", "amber", "golden")}
CAT_NOUNS = ("cat", "kitty", "kitten")
CAR_NOUNS = ("car", "automobile", "vehicle")
CAR_TYPE_WORDS = {"sedan": ("sedan", "saloon"), "hatchback": ("hatchback",),
                  "pickup truck": ("pickup truck", "pickup"),
                  "sports car": ("sports car", "sportscar"), "van": ("van", "minivan")}
PATTERN_WORDS = {"plain": ("plain", "solid"), "striped": ("striped", "stripy", "tabby"),
                 "spotted": ("spotted", "spotty")}
PARTICIPLES = {"sitting": ("sitting", "seated"), "lying": ("lying", "lying down")}
SETTING_PHRASES = {  # {rug} is filled with "<colour> rug" or "<colour> carpet"
    "rug": ("on a {rug}", "on top of a {rug}"),
    "grass": ("on the grass", "on a lawn", "in the grass"),
    "sofa": ("on a sofa", "on a couch", "on the couch"),
    "city street": ("on a city street", "in the city", "on an urban street"),
    "country road": ("on a country road", "on a rural road", "in the countryside"),
    "parking lot": ("in a parking lot", "in a car park", "in an empty parking lot"),
}
TIME_PHRASES = {"day": ("during the day", "in the daytime", "in daylight", "by day",
                        "on a sunny day"),
                "night": ("at night", "by night", "at nighttime", "on a starry night")}
FACING_PHRASES = {"cat": ("facing {}", "facing to the {}", "looking {}", "turned to the {}"),
                  "car": ("facing {}", "pointing {}", "heading {}", "facing to the {}")}
INTROS = ("a photo of", "a picture of", "an image of", "a drawing of", "a detailed photo of")
LONG_WORDS = 15


def make_captions(attributes: dict, rng: random.Random, n: int = 5) -> list[str]:
    """n distinct captions, each true of the scene: one long caption stating every attribute,
    one short "a <colour> <noun>", the rest partial or reordered descriptions."""
    captions = [_long(attributes, rng)]
    if n > 1:
        captions.append(f"{_a(_color(attributes, rng))} {_noun(attributes, rng)}")
    for _ in range(40 * n):
        if len(captions) >= n:
            break
        writer = rng.choice((_partial, _partial, _fronted))
        text = writer(attributes, rng)
        if text not in captions:
            captions.append(text)
    while len(captions) < n:  # tiny vocabularies only: vary the long form's opening
        captions.append(f"{rng.choice(('here is', 'this is', 'we see'))} {_long(attributes, rng)}")
    rng.shuffle(captions)
    return captions[:n]


def parse_caption(text: str) -> dict[str, str]:
    """The attributes a caption states, with canonical values; unstated attributes are absent."""
    # Hyphens and punctuation become spaces; '#' marks text already read so a later, shorter
    # pattern (e.g. "car" inside "car park", "blue" inside "blue rug") cannot read it again.
    text = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
    found: dict[str, str] = {}
    for pattern, reader in _RULES:
        # called at once
        text = pattern.sub(lambda m, reader=reader: _consume(m, reader, found), text)
    if "car_type" in found:
        found["subject"] = "car"
    return found


# ---------------------------------------------------------------- writing

def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _color(a: dict, rng: random.Random) -> str:
    return rng.choice(COLOR_WORDS[a["color"]])


def _noun(a: dict, rng: random.Random, typed: bool | None = None) -> str:
    """The subject noun; for cars, the car type (which states it) or a generic word."""
    if a["subject"] == "cat":
        return rng.choice(CAT_NOUNS)
    if typed is None:
        typed = rng.random() < 0.6
    return rng.choice(CAR_TYPE_WORDS[a["car_type"]]) if typed else rng.choice(CAR_NOUNS)


def _setting(a: dict, rng: random.Random, rug_color: bool = True) -> str:
    phrase = rng.choice(SETTING_PHRASES[a["setting"]])
    rug = rng.choice(("rug", "carpet"))
    if rug_color:
        rug = f"{rng.choice(COLOR_WORDS[a['rug_color']])} {rug}" if "rug_color" in a else rug
    return phrase.format(rug=rug)


def _time(a: dict, rng: random.Random) -> str:
    return rng.choice(TIME_PHRASES[a["time"]])


def _facing(a: dict, rng: random.Random) -> str:
    return rng.choice(FACING_PHRASES[a["subject"]]).format(a["facing"])


def _noun_phrase(a: dict, rng: random.Random, say: set[str]) -> str:
    """Article, adjectives and noun (plus "with X eyes"), stating the attributes named in `say`."""
    say = say & a.keys()
    adjectives = []
    if "color" in say:
        adjectives.append(_color(a, rng))
    if "pattern" in say:
        adjectives.insert(rng.randrange(len(adjectives) + 1),
                          rng.choice(PATTERN_WORDS[a["pattern"]]))
    eyes = rng.choice(EYE_WORDS[a["eyes"]]) if "eyes" in say else None
    if eyes and rng.random() < 0.3:
        adjectives.insert(0, f"{eyes}-eyed")
        eyes = None
    phrase = _a(" ".join([*adjectives, _noun(a, rng, typed=True if "car_type" in say else None)]))
    return f"{phrase} with {eyes} eyes" if eyes else phrase


def _long(a: dict, rng: random.Random) -> str:
    """States every categorical attribute, in 15+ words."""
    say = {"color", "pattern", "eyes", "car_type"}
    parts = [rng.choice(INTROS), _noun_phrase(a, rng, say)]
    if a["subject"] == "cat":
        parts.append(rng.choice(PARTICIPLES[a["pose"]]))
    else:
        parts.append(rng.choice(("seen from the side", "shown from the side", "in side view,")))
    parts += [_setting(a, rng), _time(a, rng) + ",", _facing(a, rng)]
    text = " ".join(parts)
    if len(text.split()) < LONG_WORDS:  # no template is this short today; keep the promise anyway
        text = "here is " + text
    return text


def _partial(a: dict, rng: random.Random) -> str:
    """A random subset of attributes: noun phrase, then pose, then setting/time/facing in any
    order."""
    optional = [k for k in ("color", "pattern", "eyes", "car_type") if k in a]
    say = {k for k in optional if rng.random() < 0.5}
    tail = [_setting(a, rng, rng.random() < 0.6), _time(a, rng), _facing(a, rng)]
    tail = [t for t in tail if rng.random() < 0.45]
    rng.shuffle(tail)
    if "pose" in a and rng.random() < 0.5:
        tail.insert(0, rng.choice(PARTICIPLES[a["pose"]]))
    return " ".join([_noun_phrase(a, rng, say), *tail])


def _fronted(a: dict, rng: random.Random) -> str:
    """Setting or time first: "on a blue rug lies a ginger cat", "at night, a red van on a city
    street"."""
    say = {k for k in ("color", "pattern", "eyes", "car_type") if k in a and rng.random() < 0.6}
    np_ = _noun_phrase(a, rng, say)
    if "pose" in a and rng.random() < 0.5:
        verb = "sits" if a["pose"] == "sitting" else "lies"
        return f"{_setting(a, rng, rng.random() < 0.7)} {verb} {np_}"
    rest = rng.choice((_setting(a, rng, True), _facing(a, rng), ""))
    return f"{_time(a, rng)}, {np_} {rest}".strip()


# ---------------------------------------------------------------- reading

def _alts(words) -> str:
    """Regex alternation, longest first, with hyphens matching the spaces they become."""
    return "|".join(sorted((re.escape(w.replace("-", " ")) for w in words), key=len, reverse=True))


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {w.replace("-", " "): value for value, words in table.items() for w in words}


_COLOR_OF = _lookup(COLOR_WORDS)
_EYE_OF = _lookup(EYE_WORDS) | {w: v for w, v in _COLOR_OF.items() if v in EYE_WORDS}
_COLOR = _alts(_COLOR_OF)
# Colour words describing things that are not the subject; their colour is not an attribute.
_SCENERY = (r"grass|lawn|sky|sofa|couch|road|street|lines?|buildings?|house|walls?|floor|"
            r"fields?|hills?|trees?|background|lights?|moon|windows?|wheels?|tyres?|tires?|"
            r"nose|ears?|collar|paws?")


def _consume(match: re.Match, reader, found: dict[str, str]) -> str:
    for key, value in reader(match).items():
        if value is not None:
            found.setdefault(key, value)  # the first statement wins
    return " # "


def _rug(match: re.Match) -> dict[str, str | None]:
    color = _COLOR_OF[match.group(1)]
    return {"setting": "rug", "rug_color": color if color in _RUG_COLORS else None}


def _rule(words: str, reader) -> tuple[re.Pattern, object]:
    return re.compile(rf"\b(?:{words})\b"), reader


_RUG_COLORS = ("red", "blue", "green", "purple")
# Context first: a colour before rug/eyes belongs to the rug/eyes, and multi-word names
# ("car park", "sports car") are read before the single words inside them.
_RULES = [
    _rule(rf"({_COLOR}) (?:colou?red )?(?:rugs?|carpets?|mats?)", _rug),
    _rule(rf"({_alts(_EYE_OF)}) (?:eyes|eyed)", lambda m: {"eyes": _EYE_OF[m.group(1)]}),
    _rule(rf"eyes (?:are |that are |of )?({_alts(_EYE_OF)})",
          lambda m: {"eyes": _EYE_OF[m.group(1)]}),
    # "black stripes" names the markings' colour, not the subject's ("a black striped cat" does).
    _rule(rf"(?:{_COLOR}) (stripes|spots|markings)",
          lambda m: {"pattern": {"stripes": "striped", "spots": "spotted"}.get(m.group(1))}),
    _rule(r"parking lots?|car parks?|parking", lambda m: {"setting": "parking lot"}),
    _rule(r"(?:city|urban|downtown) (?:streets?|roads?)|city|downtown",
          lambda m: {"setting": "city street"}),
    _rule(r"(?:country|rural) (?:roads?|lanes?)|countryside",
          lambda m: {"setting": "country road"}),
    _rule(r"streets?", lambda m: {"setting": "city street"}),  # a bare "road" could be either
    _rule(r"rugs?|carpets?|mats?", lambda m: {"setting": "rug"}),
    _rule(r"grass|grassy|lawns?|meadows?", lambda m: {"setting": "grass"}),
    _rule(r"sofas?|couch|couches", lambda m: {"setting": "sofa"}),
    _rule(r"pick ?up trucks?|pickups?|pick ups?|trucks?", lambda m: {"car_type": "pickup truck"}),
    _rule(r"sports? cars?|sportscars?", lambda m: {"car_type": "sports car"}),
    _rule(r"sedans?|saloons?", lambda m: {"car_type": "sedan"}),
    _rule(r"hatchbacks?", lambda m: {"car_type": "hatchback"}),
    _rule(r"vans?|minivans?", lambda m: {"car_type": "van"}),
    _rule(r"cats?|kitty|kitties|kittens?", lambda m: {"subject": "cat"}),
    _rule(r"cars?|automobiles?|vehicles?", lambda m: {"subject": "car"}),
    # body types the procedural cars lack, as Stanford Cars' class names have them
    _rule(r"coupes?|convertibles?|suvs?|wagons?|cabs?|taxis?|jeeps?|limousines?",
          lambda m: {"subject": "car"}),
    _rule(r"stripes|striped|stripy|tabby", lambda m: {"pattern": "striped"}),
    _rule(r"spots|spotted|spotty", lambda m: {"pattern": "spotted"}),
    _rule(r"plain|solid", lambda m: {"pattern": "plain"}),
    _rule(r"sitting|sits|sit|seated|sat", lambda m: {"pose": "sitting"}),
    _rule(r"lying|lies|lie|laying|lays|lay", lambda m: {"pose": "lying"}),
    _rule(r"nighttime|night time|night|midnight|in the dark", lambda m: {"time": "night"}),
    _rule(r"daytime|day time|daylight|day", lambda m: {"time": "day"}),
    _rule(r"(?:facing|faces|face|looking|looks|heading|heads|pointing|points|pointed|turned|turns|"
          r"driving|drives|going|goes|moving|moves)"
          r"(?: to| towards?)?(?: the)? (left|right)", lambda m: {"facing": m.group(1)}),
    _rule(r"(left|right) (?:facing|pointing)", lambda m: {"facing": m.group(1)}),
    _rule(rf"({_COLOR})(?! (?:{_SCENERY})\b)", lambda m: {"color": _COLOR_OF[m.group(1)]}),
]
