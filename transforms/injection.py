"""Score a chunk for indirect prompt injection: text planted in a document that tries to
instruct the model that later reads the chunk. Pure functions, standard library only.

`screen` looks for four kinds of signal and names each one it finds in `reasons`:

- instructions addressed to the model: override phrases, chat-template tokens, fake
  conversation turns (a "System:" or "Assistant:" line whose content gives orders or asks for
  secrets), requests to reveal the prompt, and text that names the model as its reader
  ("Note to any AI summarising this page", "An das Sprachmodell:") and then tells it what to
  do; in English and the main override, role-switch and addressee wording of de, fr, es, it,
  nl, pl and pt;
- role-play and jailbreak phrasing (DAN, "act as an unrestricted AI", developer mode);
- hidden text (zero-width, bidi and tag characters, HTML comments, invisible CSS, long
  whitespace runs) and encoded text (base64 and hex runs; ROT13 and reversed text when the
  text says to decode them); text in a hidden place or an encoding is screened on its own;
- data exfiltration (URLs whose query is built from conversation data, "send the
  conversation to https://...", a URL the text says to fill with the user's data).

Before the rules read a text it is normalised: invisible characters and markup that splits
a word go, NFKC folds fullwidth forms, look-alike letters, l33t and letter-spacing
("i g n o r e", "d-i-s-r-e-g-a-r-d") are undone. The rule tables live in
`transforms.injection_rules`; each rule has a few gate substrings so clean text costs little.

Each signal has a weight w in (0, 1); the score is 1 - prod(1 - w), so a second signal
never lowers it. Phrases that also occur in ordinary text (role markers, "from now on
you") weigh little alone; wording that only makes sense to a model weighs more. A match
in a sentence that describes attacks ("attackers may try ...", "for example") is
discounted, so security-awareness pages stay under the threshold; hidden-text and
exfiltration signals are never discounted.

Beside the rules, a learned n-gram model (`transforms.injection_model`) judges the text in
windows of words and adds one more signal where it passes its threshold: it catches the
wordings no rule was written for. `rules_screen` is the rules alone.

Screen text before whitespace is collapsed and markup stripped, or the hidden-text
signals have nothing left to see.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from transforms import injection_model
from transforms import injection_rules as R
from transforms.injection_rules import BIDI_OTHER, BIDI_OVERRIDE, ZERO_WIDTH, normalise

SCREENER_VERSION = "rules-3+ngram-lr-2"  # bump when the rules or the learned model change
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Screening:
    score: float  # 0.0 .. 1.0
    reasons: tuple[str, ...]  # short human-readable reasons, strongest first

    def quarantined(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        return self.score >= threshold


_Hits = dict[str, tuple[float, str]]  # rule name -> (weight, reason); a rule counts once, at its strongest
_Spans = list[tuple[int, float, str]]  # where each phrase hit starts, its (discounted) weight and its rule

_KIND_LABEL = {"instr": "instruction to the model", "role": "role-play/jailbreak"}
_DISCOUNT = 0.3  # a described attack keeps under a third of its weight
_SNIPPET = 70
_MAX_SPANS = 32  # hidden spans screened on their own; bounds the work on pathological markup
_MAX_SPAN_CHARS = 2000
_TURN_CHARS = 600  # how far a fake conversation turn reaches
_FAKE_TURN_MIN = 0.25  # a hit this strong inside a system/assistant turn makes the turn an order
_ENCODED_MIN = 0.25  # a hit this strong inside decoded text makes the encoding a hiding place
_HIDDEN_MIN = 0.2  # and inside hidden markup (lower: hiding it is itself a sign)

_ZERO_WIDTH_RUN = re.compile(f"[{ZERO_WIDTH}]+")
_BIDI_OVERRIDE_RE = re.compile(f"[{BIDI_OVERRIDE}]")
_BIDI_OTHER_RE = re.compile(f"[{BIDI_OTHER}]")
_TAG_CHAR = re.compile("[\U000e0000-\U000e007f]")
_FLAG_TAGS = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]+\U000e007f")  # 🏴 region flags


def _snip(text: str) -> str:
    text = " ".join(text.split()).lstrip(".!?;:-\u2013\u2014 ")
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


# --- sentences and the attack-description discount ---------------------------------------------

_I = re.IGNORECASE | re.MULTILINE

_QUOTES = "'\"\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
# Sentence ends; "e.g." and "i.e." do not end one.
_BOUNDARY = re.compile(r"(?<!e\.g)(?<!i\.e)[.!?](?=\s|$)|\n")
# Words of a sentence that talks about attacks rather than making one.
_DESCRIBES = re.compile(
    r"\b(?:attackers?|adversar\w*|malicious|phishing|scam\w*|prompt[\s-]+injections?|injection\s+attacks?|"
    r"jailbreak\s+attempts?|red\s+team|for\s+example|such\s+as|example\s+of|examples?\s*:|like\s+this|"
    r"(?:may|might|could)\s+try|tries\s+to|try\s+to\s+make|attempts?\s+to|if\s+you\s+see|"
    r"report\s+(?:it|them|this|such)|is\s+an\s+attack|beware|the\s+phrase|known\s+(?:\w+\s+)?pattern)\b|\be\.g\.",
    re.IGNORECASE,
)


class _Sentences:
    """Sentence spans of one text, found on first use: rules ask for the sentence around each match."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._ends: list[int] | None = None

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._ends = [m.end() for m in _BOUNDARY.finditer(self.text)]
        return self._ends

    def around(self, start: int, end: int) -> tuple[int, int]:
        ends = self.ends
        i = bisect_right(ends, start)
        lo = ends[i - 1] if i else 0
        j = bisect_left(ends, end + 1)
        return lo, ends[j] if j < len(ends) else len(self.text)

    def next_end(self, pos: int) -> int:
        """End of the sentence after the one holding `pos`."""
        ends = self.ends
        j = bisect_left(ends, pos + 1)
        j = bisect_right(ends, ends[j]) if j < len(ends) else j
        return ends[j] if j < len(ends) else len(self.text)

    def describes_attacks(self, start: int, end: int) -> bool:
        """The framing comes first ("attackers may try to make the assistant ignore ..."), or the
        phrase is quoted in a sentence about attacks. A cue after an unquoted command does not
        count, so "..., such as order 5" tacked on cannot excuse "ignore all previous instructions"."""
        lo, hi = self.around(start, end)
        before, after = self.text[max(lo, start - 300): start], self.text[end: min(hi, end + 300)]
        if _DESCRIBES.search(before):
            return True
        quoted = any(q in before for q in _QUOTES) and any(q in after for q in _QUOTES)
        return quoted and _DESCRIBES.search(after) is not None


def _add(hits: _Hits, name: str, weight: float, reason: str) -> None:
    if weight > hits.get(name, (0.0, ""))[0]:
        hits[name] = (weight, reason)


def _add_phrase(hits: _Hits, spans: _Spans, sentences: _Sentences, kind: str, name: str, weight: float,
                start: int, end: int, matched: str) -> None:
    """A phrase hit, discounted when its sentence describes attacks instead of making one."""
    reason = f"{_KIND_LABEL[kind]}: '{_snip(matched)}'"
    if sentences.describes_attacks(start, end):
        weight, reason = weight * _DISCOUNT, reason + " (in a sentence that describes attacks)"
    _add(hits, name, weight, reason)
    spans.append((start, weight, name))


# --- phrase rules ------------------------------------------------------------------------------

def _override_hits(text: str, low: str, words: frozenset[str], hits: _Hits, spans: _Spans,
                   sentences: _Sentences) -> None:
    same = low if len(low) == len(text) else None
    if R.opens(R.OVERRIDE_GATE, words, low):
        for m in R.finditer(R.OVERRIDE, text, same):
            tail = m.group("tail") or ""
            second_person = re.search(r"\byour\b", m.group("det"), _I) is not None
            if tail and not second_person and not re.match(r"\s+(?:you|above|so)\b", tail, _I):
                weight = 0.2  # "ignore the previous instructions on the whiteboard": about a thing, for a person
            elif R.THIRD_PERSON.search(m.group("det")):
                weight = 0.45  # "ignore its instructions" reports rather than commands
            elif R.STRONG_DET.search(m.group("det")) or tail:
                weight = 0.75  # "ignore all previous instructions" has one reader
            else:
                weight = 0.4
            _add_phrase(hits, spans, sentences, "instr", "override", weight, m.start(), m.end(),
                        text[m.start():m.end()])
    if R.opens(R.OVERRIDE_FOREIGN_GATE, words, low):
        for m in R.finditer(R.OVERRIDE_FOREIGN, text, same):
            strong = R.FOREIGN_STRONG.search(m.group("det")) is not None or bool(m.group("tail"))
            _add_phrase(hits, spans, sentences, "instr", "override_foreign", 0.75 if strong else 0.4,
                        m.start(), m.end(), text[m.start():m.end()])


def _addressee_hits(text: str, low: str, words: frozenset[str], hits: _Hits, spans: _Spans,
                    sentences: _Sentences) -> None:
    """Someone speaking to the model: "Note to AI models:", "Assistant,", "If you are an AI", "whoever
    summarises this". Model nouns are found first; the words just before and after decide."""
    found: list[tuple[int, int]] = []
    if R.opens(R.MODEL_GATE, words, low):
        for m in R.model_nouns(text, words):
            s, e = m.start(), m.end()
            before = text[max(0, s - 90): s]
            if R.READER_NOUN.fullmatch(m.group()):
                found.append((s, e))
                continue
            for _, pre, post in R.ADDRESS_CONTEXTS:
                b = pre.search(before) if pre else None
                if pre and not b:
                    continue
                a = post.match(text, e) if post else None
                if post and not a:
                    continue
                found.append((s - len(before) + b.start() if b else s, a.end() if a else e))
                break
            else:
                # "Language model:", "AI readers:" at the start of a clause; "Assistant:" there is a speaker label.
                if R.MODEL_ONLY.fullmatch(m.group()) and re.match(r"\s*:", text[e:e + 3]) and \
                        re.search(r"(?:^\s*|[.!?;(\[\-–—]\s*|\n\s*)\Z", before):
                    found.append((s, e + text[e:e + 3].index(":") + 1))
    if R.opens(R.ADDRESSEE_OTHER_GATE, words, low):
        same = low if len(low) == len(text) else None
        found += [(m.start(), m.end()) for m in R.finditer(R.ADDRESSEE_OTHER, text, same)]
    for start, end in found:
        # The order may follow in the same sentence or the next: "Dear assistant, ... . Kindly respond ...".
        hi = min(sentences.next_end(end), end + 300)
        colon = re.match(r"[^.!?\n:]{0,60}:", text[end:end + 61])
        directed = text[start:end].rstrip().endswith(":") or colon is not None or \
            R.DIRECTIVE.search(text, end, hi) is not None
        # Naming the model is suspicious; naming it and then telling it what to do is an instruction.
        _add_phrase(hits, spans, sentences, "instr", "addressee", 0.6 if directed else 0.35, start, end,
                    text[start:end])


# Rules that mark the structure of a turn rather than what it says.
_STRUCTURE = frozenset({"role", "json_role", "template", "alpaca", "fake_boundary", "system_header", "context_tag",
                        "context_tags", "fake_turn"})


def _fake_turn_hits(text: str, low: str, words: frozenset[str], hits: _Hits, spans: _Spans) -> None:
    """A system or assistant turn planted in a document whose content gives orders or asks for secrets.
    A real transcript ("Assistant: The office opens at 8:30") has speaker labels but no orders."""
    if not R.opens(R.ROLE_GATE, words, low):
        return
    for m in R.finditer(R.ROLE_LINE, text, low if len(low) == len(text) else None):
        line_end = text.find("\n", m.end())
        nxt = R.NEXT_SPEAKER.search(text, line_end + 1) if line_end != -1 else None
        end = min(nxt.start() if nxt else len(text), m.end() + _TURN_CHARS)
        inside = [w for s, w, name in spans if m.end() <= s < end and w >= _FAKE_TURN_MIN and name not in _STRUCTURE]
        if inside or R.TURN_ORDER.match(text, m.end()):
            content = text[m.start(): end]
            _add(hits, "fake_turn_order", 0.45, f"instruction to the model: fake turn '{_snip(content)}'")


def _rule_hits(text: str, low: str, words: frozenset[str], hits: _Hits, spans: _Spans, sentences: _Sentences) -> None:
    same = low if len(low) == len(text) else None
    for i in R.open_rules(R.RULES, R.RULE_INDEX, R.RULES_ALWAYS, words, low):
        kind, name, weight, pattern, _ = R.RULES[i]
        for m in R.finditer(pattern, text, same):
            start, end = m.start(), m.end()
            if name in R.NEGATABLE and R.negated(text, start):
                continue  # "do not reveal your password to anyone" warns rather than asks
            if name in R.PRECEDED and not R.PRECEDED[name].search(text, max(0, start - 40), start):
                continue
            _add_phrase(hits, spans, sentences, kind, name, weight, start, end, text[start:end])


def _phrase_hits(text: str) -> _Hits:
    hits: _Hits = {}
    spans: _Spans = []
    low = text.lower()
    words = R.words_of(low)
    sentences = _Sentences(text)
    _override_hits(text, low, words, hits, spans, sentences)
    _rule_hits(text, low, words, hits, spans, sentences)
    _addressee_hits(text, low, words, hits, spans, sentences)
    _exfil_phrases(text, low, words, hits, spans)
    _fake_turn_hits(text, low, words, hits, spans)
    return hits


# --- exfiltration ------------------------------------------------------------------------------

def _exfil_phrases(text: str, low: str, words: frozenset[str], hits: _Hits, spans: _Spans) -> None:
    same = low if len(low) == len(text) else None
    if R.opens(R.SEND_GATE, words, low):
        for m in R.finditer(R.SEND, text, same):
            obj = m.group("obj")
            if R.SENT_CHAT.search(obj):
                weight = 0.7  # the conversation itself leaves, wherever it goes
            elif R.SENT_DATA.search(obj):
                weight = 0.45  # personal data to an address: a leak, or a runbook step
            else:
                continue
            _add(hits, "send_data", weight, f"data exfiltration: '{_snip(text[m.start():m.end()])}'")
            spans.append((m.start(), weight, "send_data"))
    if "user" in low or "conversation" in low or "chat" in low or "messages" in low:
        for m in R.finditer(R.INCLUDE, text, same):
            # Putting the user's data into a link is the leak; "include the customer's email in the ticket" is not.
            linked = R.LINK_CONTEXT.search(text) is not None
            _add(hits, "include_data", 0.6 if linked else 0.25,
                 f"data exfiltration: '{_snip(text[m.start():m.end()])}'")
            spans.append((m.start(), 0.6 if linked else 0.25, "include_data"))


def _url_hits(text: str, hits: _Hits) -> None:
    """URLs whose query would carry conversation data when the model fills it in."""
    if "http" not in text:
        return
    seen: set[str] = set()
    found = [(m.group(2), "markdown image" if m.group(1) else "markdown link", m.start(2))
             for m in R.MD_LINK.finditer(text)]
    if "<img" in text.lower():
        found += [(m.group(1), "HTML image", m.start(1)) for m in R.HTML_IMG.finditer(text)]
    found += [(m.group().rstrip(".,;:)]'\""), "URL", m.start()) for m in R.URL.finditer(text)]
    sentences = _Sentences(text)
    for url, where, start in found:
        if url in seen:
            continue
        seen.add(url)
        try:
            query = urlsplit(url).query
        except ValueError:
            continue
        pairs = parse_qsl(query, keep_blank_values=True)
        filled = [(k, v) for k, v in pairs if R.PLACEHOLDER.match(v)]
        about_data = [(k, v) for k, v in filled if R.DATA_WORDS.search(k + " " + v)]
        image = where in ("markdown image", "HTML image")
        open_end = bool(pairs) and pairs[-1][1] == "" and query.endswith("=")
        if filled and image:
            # An image is fetched without a click: its query leaves as soon as the answer renders.
            _add(hits, "md_image", 0.75, f"data exfiltration: {where} URL fills '{filled[0][1]}'")
        elif about_data and where == "markdown link":
            _add(hits, "md_link", 0.6, f"data exfiltration: link URL fills '{about_data[0][1]}'")
        elif about_data:
            # A bare URL is not fetched by itself, and mail-merge links look the same: weaker.
            _add(hits, "url_data", 0.35, f"data exfiltration: URL fills '{about_data[0][1]}'")
        if open_end:
            _add(hits, "open_param", 0.3, f"data exfiltration: URL ends in an empty '{pairs[-1][0]}=' to append to")
            if image:
                _add(hits, "md_image", 0.45, f"data exfiltration: {where} URL ends in an empty '{pairs[-1][0]}='")
        if not (filled or open_end) and R.INTO_URL.search(text, max(0, start - 40), start):
            # "encode the customer's phone number into the path of https://...": no query to fill, the path is it.
            lo, hi = sentences.around(start, start + len(url))
            if R.URL_FILL.search(text, lo, hi) and R.THEIR_DATA.search(text, lo, hi):
                _add(hits, "url_fill", 0.6,
                     f"data exfiltration: text says to put the user's data into '{_snip(url)}'")
        if filled or open_end:
            # The sentence around the URL says to put the user's or the conversation's data into it.
            lo, hi = sentences.around(start, start + len(url))
            sentence = text[lo:start] + " " + text[start + len(url): hi]
            if R.URL_FILL.search(sentence) and R.URL_DATA.search(sentence):
                _add(hits, "url_fill", 0.6,
                     f"data exfiltration: text says to fill '{_snip(url)}' with conversation data")


# --- hidden text -------------------------------------------------------------------------------

_OPEN_TAG = re.compile(r"<([a-z][a-z0-9]*)\b([^<>]{0,2000})>", re.I)
_STYLE_ATTR = re.compile(r"\bstyle\s*=\s*([\"'])(.*?)\1", re.I | re.DOTALL)
_HIDDEN_ATTR = re.compile(r"(?<![-\w])hidden(?![-\w])", re.I)
_INVISIBLE_CSS = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0*)?(?:px|pt|em|rem|%)?\s*(?:;|$)|"
    r"font-size\s*:\s*[01](?:\.\d+)?px|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)|"
    r"(?<![-\w])color\s*:\s*(?:#f[a-f\d]f[a-f\d]f[a-f\d]|#fff\b|white|transparent)|"
    r"(?:left|top|text-indent)\s*:\s*-\d{3,}|height\s*:\s*0[^;]*;\s*overflow\s*:\s*hidden",
    re.I,
)
_MD_COMMENT = re.compile(r"^\[(?://|comment)\]:\s*(?:#|<>)\s*[(\"'](.*?)[)\"']\s*$", re.MULTILINE)
_LONG_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]{64,}|\n(?:[ \t]*\n){11,}")
_WIDE_SPACE = re.compile("[\u00a0\u2000-\u200a\u3000]{2}")
_BIDI_SPAN = re.compile(f"[{BIDI_OVERRIDE}\u202a\u202b\u2066-\u2068]([^\u202c\u2069]*)")


def _legit_joiner(text: str, i: int) -> bool:
    """A joiner inside an emoji sequence or a non-Latin word, or a byte-order mark at the start."""
    ch, before, after = text[i], text[i - 1] if i else "", text[i + 1] if i + 1 < len(text) else ""
    if ch == "\ufeff":
        return i == 0
    emoji = {unicodedata.category(c) for c in (before, after) if c} & {"So", "Sk"} or before == "\ufe0f"
    if ch == "\u200d" and emoji:
        return True
    return ch in "\u200c\u200d" and (ord(before or " ") >= 0x0590 and ord(after or " ") >= 0x0590)


def _hidden_markup(text: str) -> list[tuple[str, str]]:
    """(where, content) of HTML comments, invisible or hidden elements and markdown comments.

    Scans with str.find rather than one regex per element, so unclosed tags cost linear time."""
    found: list[tuple[str, str]] = []
    start = text.find("<!--")
    while start != -1:
        end = text.find("-->", start + 4)
        found.append(("an HTML comment", text[start + 4: end if end != -1 else len(text)]))  # unclosed runs to the end
        start = text.find("<!--", end + 3) if end != -1 else -1
    lowered = text.lower()
    for m in _OPEN_TAG.finditer(text):
        style = _STYLE_ATTR.search(m.group(2))
        if style and _INVISIBLE_CSS.search(style.group(2)):
            where = "invisible HTML"
        elif _HIDDEN_ATTR.search(_STYLE_ATTR.sub("", m.group(2))):
            where = "a hidden HTML element"
        else:
            continue
        close = lowered.find(f"</{m.group(1).lower()}", m.end())
        found.append((where, text[m.end(): close if close != -1 else m.end() + _MAX_SPAN_CHARS]))
    found += [("a markdown comment", m.group(1)) for m in _MD_COMMENT.finditer(text)]
    return found


def _hidden_hits(text: str, hits: _Hits) -> list[tuple[str, str]]:
    """Flag hidden characters and markup; return (where, content) of each hidden span."""
    spans: list[tuple[str, str]] = []
    if R.SPECIAL.search(text):
        _invisible_hits(text, hits, spans)
    for where, content in _hidden_markup(text) if "<" in text or "]:" in text else []:
        # A comment or a hidden menu alone is normal markup; what it says decides (in `screen`).
        _add(hits, f"markup:{where}", 0.2 if where == "invisible HTML" else 0.15, f"hidden text: {where}")
        spans.append((where, content))
    if "    " in text or "\t\t" in text or text.count("\n") > 11 or _WIDE_SPACE.search(text):
        for m in _LONG_SPACE.finditer(text):
            if not text[m.end(): m.end() + 1].strip():
                continue  # trailing padding hides nothing
            _add(hits, "long_space", 0.25, f"hidden text: {len(m.group())} whitespace characters before more text")
            spans.append(("text after a long whitespace run", text[m.end(): m.end() + _MAX_SPAN_CHARS]))
    return spans


def _invisible_hits(text: str, hits: _Hits, spans: list[tuple[str, str]]) -> None:
    """Zero-width, bidi and tag characters."""
    runs = list(_ZERO_WIDTH_RUN.finditer(text))
    zero_width = [i for m in runs for i in range(m.start(), m.end()) if not _legit_joiner(text, i)]
    if zero_width:
        run = max(len(m.group()) for m in runs)
        # One stray zero-width space is a copy-paste accident; several, or a run that encodes bits, is not.
        weight = 0.8 if run >= 8 else 0.55 if len(zero_width) >= 3 else 0.3
        _add(hits, "zero_width", weight, f"hidden text: {len(zero_width)} zero-width or invisible characters")
    if _BIDI_OVERRIDE_RE.search(text):
        _add(hits, "bidi", 0.55, "hidden text: bidi override characters reorder what a reader sees")
        spans += [("bidi-controlled text", m.group(1)) for m in _BIDI_SPAN.finditer(text)]
    elif _BIDI_OTHER_RE.search(text):
        _add(hits, "bidi", 0.3, "hidden text: bidi embedding or isolate characters")
        spans += [("bidi-controlled text", m.group(1)) for m in _BIDI_SPAN.finditer(text)]
    tags = [c for c in _FLAG_TAGS.sub("", text) if "\U000e0000" <= c <= "\U000e007f"] if _TAG_CHAR.search(text) else []
    if tags:
        decoded = "".join(chr(ord(c) - 0xE0000) for c in tags if "\U000e0020" <= c <= "\U000e007e")
        # Tag characters render as nothing but a model reads them as ASCII ("ASCII smuggling").
        _add(hits, "tags", 0.6, f"hidden text: unicode tag characters spelling '{_snip(decoded)}'")
        spans.append(("unicode tag characters", decoded))


def screener_version(learned: bool = True) -> str:
    return SCREENER_VERSION if learned else SCREENER_VERSION.split("+")[0]


def screen(text: str, *, learned: bool = True) -> Screening:
    """Score one chunk for indirect prompt injection, with the reasons: the rules, then the
    learned model (`transforms.injection_model`) as one more signal unless `learned` is off."""
    hits = _all_rule_hits(text)
    if not learned:
        return _scored(hits)
    model = injection_model.load()
    p = model.strongest(text)
    if p >= model.threshold:
        # At its threshold the model alone reaches the default quarantine threshold (0.5).
        weight = 0.5 + 0.45 * (p - model.threshold) / (1.0 - model.threshold)
        _add(hits, "learned", weight, f"the learned n-gram model ({model.version}) gives it {p:.2f}")
    return _scored(hits)


def rules_screen(text: str) -> Screening:
    """The rules alone, without the learned model (for measuring each part)."""
    return _scored(_all_rule_hits(text))


def _scored(hits: _Hits) -> Screening:
    remaining = 1.0
    for weight, _ in hits.values():
        remaining *= 1.0 - weight
    ordered = sorted(hits.values(), key=lambda hit: -hit[0])
    return Screening(score=round(1.0 - remaining, 4), reasons=tuple(reason for _, reason in ordered))


def _all_rule_hits(text: str) -> _Hits:
    hits: _Hits = {}
    for where, content in _hidden_hits(text, hits)[:_MAX_SPANS]:
        inner = _phrase_hits(normalise(content[:_MAX_SPAN_CHARS]))
        if inner and max(inner.values())[0] >= _HIDDEN_MIN:
            _, reason = max(inner.values())
            # Hidden from the reader yet written for the model: the strongest sign of a planted instruction.
            _add(hits, "hidden_instruction", 0.6, f"hidden text in {where} carries {reason}")
    for where, content in R.decoded_spans(text)[:_MAX_SPANS]:
        inner = _phrase_hits(normalise(content[:_MAX_SPAN_CHARS * 2]))
        if inner and max(inner.values())[0] >= _ENCODED_MIN:
            _, reason = max(inner.values())
            # Encoded so that a person or a filter cannot read it, yet a model can: as good as hidden.
            _add(hits, "encoded_instruction", 0.6, f"hidden text in {where} carries {reason}")
    _url_hits(text, hits)
    for name, (weight, reason) in _phrase_hits(normalise(text)).items():
        _add(hits, name, weight, reason)
    return hits
