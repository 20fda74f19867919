"""Score a chunk for indirect prompt injection: text planted in a document that tries to
instruct the model that later reads the chunk. Pure functions, standard library only.

`screen` looks for four kinds of signal and names each one it finds in `reasons`:

- instructions addressed to the model (override phrases, chat-template tokens, role
  markers, requests to reveal the prompt);
- role-play and jailbreak phrasing (DAN, "act as an unrestricted AI", developer mode);
- hidden text (zero-width, bidi and tag characters, HTML comments, invisible CSS, long
  whitespace runs); text in a hidden place is screened on its own as well;
- data exfiltration (URLs whose query is built from conversation data, "send the
  conversation to https://...").

Each signal has a weight w in (0, 1); the score is 1 - prod(1 - w), so a second signal
never lowers it. Phrases that also occur in ordinary text (role markers, "from now on
you") weigh little alone; wording that only makes sense to a model weighs more. A match
in a sentence that describes attacks ("attackers may try ...", "for example") is
discounted, so security-awareness pages stay under the threshold; hidden-text and
exfiltration signals are never discounted.

Screen text before whitespace is collapsed and markup stripped, or the hidden-text
signals have nothing left to see.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

SCREENER_VERSION = "rules-1"  # bump when rules change
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Screening:
    score: float  # 0.0 .. 1.0
    reasons: tuple[str, ...]  # short human-readable reasons, strongest first

    def quarantined(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        return self.score >= threshold


_Hits = dict[str, tuple[float, str]]  # rule name -> (weight, reason); a rule counts once, at its strongest

_KIND_LABEL = {"instr": "instruction to the model", "role": "role-play/jailbreak"}
_DISCOUNT = 0.3  # a described attack keeps under a third of its weight
_SNIPPET = 70
_MAX_SPANS = 32  # hidden spans screened on their own; bounds the work on pathological markup
_MAX_SPAN_CHARS = 2000

# --- normalisation -----------------------------------------------------------------------------

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u180e\ufeff"  # and invisible operators
_BIDI_OVERRIDE = "\u202d\u202e"  # reorder visible characters: almost never legitimate
_BIDI_OTHER = "\u202a\u202b\u202c\u2066\u2067\u2068\u2069"
_INVISIBLE = re.compile(f"[{_ZERO_WIDTH}{_BIDI_OVERRIDE}{_BIDI_OTHER}\u00ad\U000e0000-\U000e007f]")
_FLAG_TAGS = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]+\U000e007f")  # 🏴 region flags
_CONFUSABLES = str.maketrans("аеорсухіјѕԁοαν", "aeopcyxijsdoav")  # Cyrillic/Greek look-alikes
_LEET = str.maketrans("013457@$", "oieastas")
_WORD = re.compile(r"[^\W_]+|[@$]", re.UNICODE)
_TOKEN = re.compile(r"[A-Za-z0-9@$]+")
_SPACED = re.compile(r"(?<![A-Za-z])[A-Za-z](?: [A-Za-z]){2,}(?![A-Za-z])")  # "i g n o r e"


def _fix_token(m: re.Match[str]) -> str:
    token = m.group()
    mixed = any(c.isalpha() for c in token) and any(c in "013457@$" for c in token)
    return token.translate(_LEET) if mixed else token


def _fix_word(m: re.Match[str]) -> str:
    word = m.group()
    # Only mixed-script words: a whole Cyrillic or Greek word is just another language.
    return word.translate(_CONFUSABLES) if any("a" <= c.lower() <= "z" for c in word) else word


def _normalise(text: str) -> str:
    """What the rules read: no invisible characters, NFKC, look-alikes and l33t undone."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    text = _WORD.sub(_fix_word, text)
    text = _TOKEN.sub(_fix_token, text)
    text = _SPACED.sub(lambda m: m.group().replace(" ", ""), text)
    text = re.sub(r"\b(you|they|it)'re\b", r"\1 are", text.replace("\u2019", "'").replace("\u2018", "'"), flags=re.I)
    return re.sub(r"[ \t]+", " ", text)


def _snip(text: str) -> str:
    text = " ".join(text.split()).lstrip(".!?;:-\u2013\u2014 ")
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


# --- phrase rules ------------------------------------------------------------------------------

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

_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|overlook|bypass|override|stop\s+following|do\s+not\s+follow|don't\s+follow)\s+"
    r"(?P<det>(?:(?:all|any|every|the|your|my|its|their|these|those|of|previous|prior|above|earlier|preceding|"
    r"original|initial|old|existing|current|system|safety|content|security|given|other)\s+){0,4})"
    r"(?:instructions?|prompts?|rules|directions|guidelines|guidance|directives|programming|constraints|"
    r"restrictions|polic(?:y|ies))\b"
    r"(?P<tail>\s+(?:you\s+(?:were|have\s+been)\s+given|above|so\s+far)\b"
    r"|\s+(?:on|in|for|from|about|regarding|at|of)\s+(?!your\b|the\s+(?:system|above|prompt|context|conversation)))?",
    _I,
)
_STRONG_DET = re.compile(r"\b(?:all|your|previous|prior|above|earlier|preceding|original|initial|system)\b", _I)
_THIRD_PERSON = re.compile(r"\b(?:its|their)\b", _I)

# (kind, name, weight, pattern). Weights: 0.6-0.75 for wording only a model is meant to obey (one hit
# quarantines); 0.4-0.5 for strong wording that ordinary text uses now and then; 0.15-0.35 for phrases
# that are common in instructions to people, which need a second signal to cross the threshold.
_RULES: list[tuple[str, str, float, re.Pattern[str]]] = [
    # Chat-template tokens never occur in enterprise prose.
    ("instr", "template", 0.6, re.compile(
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|eot_id)\|>|\[/?INST\]|<</?SYS>>", _I)),
    ("instr", "alpaca", 0.45, re.compile(r"(?:^|\s)#{2,4}\s*(?:instruction|system(?:\s+prompt)?|response)\s*:", _I)),
    # "Assistant: ..." also starts every line of a chat transcript, so a role marker alone is weak.
    ("instr", "role", 0.25, re.compile(r"^[ \t>*_-]*(?:system|assistant|ai|llm|bot)\s*:[ \t]*\S[^\n]*", _I)),
    # Faked context boundaries: "---- END OF TICKET ----", "SYSTEM PROMPT:" in capitals mid-text.
    ("instr", "fake_boundary", 0.3, re.compile(
        r"\bEND\s+OF\s+(?:TICKET|DOCUMENT|CONTEXT|INPUT|TEXT|DATA|EMAIL|USER\s+INPUT)\b"
        r"|\[(?:SYSTEM|ADMIN)\b[^\]\n]{0,40}\]|(?<=\S) SYSTEM(?: PROMPT)? ?:")),
    ("instr", "fake_turn", 0.45, re.compile(
        r"^[ \t]*(?:assistant|ai|bot) ?: ?(?:sure|of\s+course|certainly|absolutely|ok(?:ay)?)\b\W*"
        r"(?:here|i\s+will|i'll)", _I)),
    ("instr", "override_above", 0.45, re.compile(
        r"\b(?:ignore|disregard|forget)\s+(?:everything\s+|all\s+)?(?:the\s+|that\s+is\s+)?above\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:before|prior\s+to)\s+this\b", _I)),
    ("instr", "override_told", 0.6, re.compile(
        r"\b(?:ignore|disregard|forget|set\s+aside|put\s+aside|discard|drop)\s+(?:everything\s+|anything\s+)?"
        r"what(?:ever)?\s+you\s+(?:were|have\s+been|'ve\s+been)\s+(?:told|instructed|given)\b"
        r"|\b(?:vergiss|ignoriere|vergessen\s+sie|ignorieren\s+sie)\s+alles,?\s+was\b", _I)),
    ("instr", "override_foreign", 0.75, re.compile(
        r"\b(?:ignorier\w*|vergiss|vergessen\s+sie|missachte\w*)\s+(?:\w+\s+){0,3}"
        r"(?:anweisungen|instruktionen|regeln|vorgaben|befehle)\b"
        r"|\bignorez?\s+(?:toutes\s+)?les\s+(?:\w+\s+)?(?:instructions|consignes)\b"
        r"|\bignora\s+(?:todas\s+)?las\s+(?:\w+\s+)?instrucciones\b", _I)),
    # Asking for the prompt is the classic leak; "your instructions sheet" is a document, not a prompt.
    ("instr", "reveal", 0.6, re.compile(
        r"\b(?:reveal|print|output|show|display|repeat|write\s+out|dump|leak|disclose|recite|tell\s+me|give\s+me)\s+"
        r"(?:me\s+)?(?:the\s+(?:full\s+|complete\s+|entire\s+)?contents?\s+of\s+)?(?:your|the)\s+"
        r"(?:(?:full|complete|entire|exact|original|initial|hidden|secret)\s+)*"
        r"(?:system\s*-?prompt|prompt|instructions|context\s+window|initial\s+prompt)\b"
        r"(?!\s+(?:sheets?|cards?|booklets?|manuals?|pages?|packs?|forms?|templates?|lives|for\s+the)\b)"
        r"|\b(?:gib|zeige?|verrate)\s+(?:den|deinen|die|deine)\s+(?:\w+\s+)?(?:system-?prompt|anweisungen)\b", _I)),
    # "The assistant must now ...": an order about the model; design docs say the same of a bot, so modest.
    ("instr", "modal", 0.35, re.compile(
        r"\b(?:assistant|ai|model|chatbot|bot|llm|language\s+models?)\s+(?:\w+\s+){0,3}?"
        r"(?:must|should|shall|has\s+to|needs?\s+to|is\s+to|(?:is\s+)?(?:now\s+)?required\s+to)\s+"
        r"(?:now\s+|always\s+|never\s+)?(?!be\b)\w+", _I)),
    ("instr", "new_instructions", 0.4, re.compile(
        r"\b(?:new|updated|revised)\s+(?:instructions?|rules?|system\s+prompt|task)\s*:"
        r"|\bneue\s+anweisung(?:en)?\b", _I)),
    ("instr", "updated", 0.45, re.compile(
        r"\byour\s+(?:instructions|rules|guidelines|system\s+prompt|task)\s+(?:have|has)\s+(?:been\s+)?"
        r"(?:updated|changed|replaced|revoked|overridden)\b"
        r"|\b(?:updated|new|real|actual|following)\s+system\s+prompt\b", _I)),
    ("instr", "real_task", 0.4, re.compile(
        r"\b(?:your|the)\s+(?:real|actual|true|new)\s+(?:task|job|goal|objective|instructions?)\s+"
        r"(?:is|are|has\s+changed)\b", _I)),
    ("instr", "from_now_on_answer", 0.35, re.compile(
        r"\bfrom\s+(?:now|here|this\s+(?:moment|point))\s+on,?\s+(?:you\s+(?:will\s+|must\s+|should\s+)?)?"
        r"(?:respond|answer|reply|act|speak|behave)\b",
        _I)),
    # Common in instructions to people ("You must now complete the training"): weak alone.
    ("instr", "you_must_now", 0.15, re.compile(
        r"\byou\s+must\s+now\b|\bfrom\s+now\s+on,?\s+you\s+(?:will|must|should|are)\b", _I)),
    ("instr", "when_asked", 0.3, re.compile(
        r"\bwhen\s+(?:you\s+are\s+|you're\s+)?asked\s+(?:about|for|whether|if)\b[^.!?\n]{0,120}?"
        r"\b(?:answer|say|respond|reply|tell)\b", _I)),
    ("instr", "respond_only", 0.3, re.compile(
        r"\b(?:respond|reply|answer)\s+(?:to\s+the\s+user\s+)?(?:only\s+with|with\s+only)\b", _I)),
    ("instr", "secrecy", 0.3, re.compile(
        r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|let)\s+the\s+(?:user|customer|human)\b"
        r"|\b(?:do\s+not|don't|never)\s+(?:mention|reveal|disclose)\s+(?:this|these\s+instructions|that\s+you)\b"
        r"|\berwähne\s+(?:dies|das)\b.{0,40}?\bnicht\b", _I)),
    ("instr", "secret_request", 0.35, re.compile(
        r"\b(?:tell|give|show|send|provide|reveal|share|list)\s+(?:me\s+|us\s+)?(?:the\s+|your\s+)?(?:\w+\s+){0,2}"
        r"(?:admin(?:istrator)?\s+password|root\s+password|passwords|override\s+code|api\s+keys?|payroll\s+table)\b",
        _I)),
    # Role-play and jailbreak. Named personas and "unrestricted AI" are jailbreak vocabulary;
    # "developer mode" and "jailbroken" also describe phones and tablets, so they weigh little alone.
    ("role", "persona", 0.7, re.compile(
        r"\b(?i:you\s+are\s+(?:now\s+)?|as\s+|called\s+|named\s+)(?:DAN|STAN|DUDE|AIM|AntiGPT|BetterDAN)\b"
        r"|\b(?i:do\s+anything\s+now|strive\s+to\s+avoid\s+norms)\b")),
    ("role", "unrestricted", 0.7, re.compile(
        r"\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|unaligned|amoral)\b"
        r"|\bact\s+as\s+my\s+(?:deceased|late|dead)\s+grand\w+", _I)),
    ("role", "pretend", 0.6, re.compile(
        r"\bpretend\s+(?:that\s+)?you\s+(?:have|are|had|were)\s+(?:no|not|free|an?\s+(?:unrestricted|unfiltered|evil))\b",
        _I)),
    ("role", "you_are_free", 0.6, re.compile(
        r"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|amoral)\s+"
        r"(?:ai|assistant|model|chatbot|bot|version)\b"
        r"|\b(?:you\s+are\s+(?:now\s+)?|act\s+as\s+)an?\s+(?:\w+\s+)?(?:ai|assistant|model|chatbot|bot)\s+"
        r"(?:without|with\s+no|that\s+has\s+no|free\s+(?:of|from))\b"
        r"|\bdu\s+bist\s+(?:jetzt|nun|ab\s+sofort)\s+(?:ein\w*\s+)?(?:\w+\s+)?(?:assistent|ki|bot|modell)\b", _I)),
    ("role", "no_longer", 0.5, re.compile(
        r"\byou\s+are\s+no\s+longer\s+(?:an?\s+|the\s+)(?:\w+\s+){0,3}(?:assistant|ai|model|chatbot|bot)\b"
        r"|\byou\s+are\s+no\s+longer\s+bound\s+by\b", _I)),
    ("role", "unrestricted_model", 0.5, re.compile(
        r"\b(?:jailbroken|unrestricted|unfiltered|uncensored)\s+(?:ai|assistant|model|chatbot|bot|version|mode)\b",
        _I)),
    ("role", "no_limits", 0.35, re.compile(
        r"\b(?:no|without(?:\s+any)?|freed?\s+(?:of|from)(?:\s+all)?|broken\s+free\s+of(?:\s+the)?|"
        r"ignores\s+(?:all|any))\s+(?:\w+\s+)?(?:restrictions|rules|filters|guidelines|limits|limitations|"
        r"content\s+polic(?:y|ies)|censorship|ethics|confines|warnings|disclaimers|safeguards)\b"
        r"|\bnot\s+bound\s+by\b|\bohne\s+(?:regeln|einschränkungen|filter)\b|\buneingeschränkt\w*", _I)),
    ("role", "compliance", 0.4, re.compile(
        r"\b(?:never|not)\s+(?:refuses?|says?\s+no|declines?)\b|\bdoes\s+not\s+have\s+to\s+abide\b"
        r"|\bnever\s+mentions?\s+polic|\banswers\s+(?:anything|everything|every\s+request)\b"
        r"|\bcan\s+do\s+anything\b|\b(?:never\s+break|stay\s+in)\s+character\b", _I)),
    ("role", "play_as", 0.35, re.compile(
        r"(?:^|[.!?:]\s+|\bplease\s+|\bi\s+(?:want|need)\s+you\s+to\s+|\byou\s+(?:will|must|should)\s+)"
        r"(?:act|pose|roleplay|role-play|behave)\s+(?:as|like)\b|\bpretend\s+to\s+be\b"
        r"|\bsimulate\s+an?\s+(?:\w+\s+){0,2}(?:ai|chatbot|model|assistant|bot)\b"
        r"|\blet'?s\s+play\s+a\s+game\b|\brespond\s+as\b|\byou\s+are\s+now\s+in\s+\w+\s+mode\b", _I)),
    ("role", "named_bot", 0.6, re.compile(
        r"\b(?:you\s+are|be|as|called|named)\s+(?:now\s+)?(?:called\s+)?(?-i:[A-Z][\w-]*(?:Bot|GPT|AI|DAN))\b", _I)),
    ("role", "imagine", 0.35, re.compile(
        r"\b(?:imagine|suppose|hypothetically,?\s+if)\s+you\s+(?:are|were)\s+an?\s+(?:\w+\s+){0,2}"
        r"(?:ai|model|assistant|chatbot|bot)\b|\bplay\s+the\s+role\s+of\b", _I)),
    ("role", "developer_mode", 0.3, re.compile(r"\b(?:developer|god|dan)\s+mode\b", _I)),
    ("role", "jailbreak", 0.3, re.compile(r"\bjail-?br(?:eak|oken)\w*", _I)),
]

# Someone speaking to the model: "Note to AI models:", "Assistant,", "If you are an AI".
_ADDRESSEE = re.compile(
    r"\b(?:note|message|attention|important|instructions?|hinweis|anweisung)\s+(?:to|for|für)?\s*(?:all\s+|any\s+)?"
    r"(?:the\s+|den\s+|die\s+)?(?:ai|llm|gpt|chatgpt|assistant|chatbot|language\s+model|summari[sz]er|bot|"
    r"automated\s+(?:\w+\s+)?(?:tool|system|reader)|assistenten|ki)s?\b(?:[^.!?\n:]{0,40}:)?"
    r"|\battention\s+(?:ai|llm|assistant|chatbot|model|bot)s?\b"
    r"|\bif\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|chatbot|bot)\b"
    r"|\bto\s+(?:the|any)\s+(?:ai|llm|assistant|chatbot|model|bot)\s+(?:reading|processing|summari[sz]ing)\b"
    r"|\b(?:ai|llm|language)\s+models?\s+(?:reading|processing|summari[sz]ing)\b"
    r"|(?:^|[.!?\-\u2013\u2014;]\s*)(?:dear\s+)?(?:ai\s+assistant|ai|assistant|chatbot|llm|chatgpt|claude|copilot)\s*,"
    r"|\bai\s+assistant\s*:|\b(?:hi|hello|hey|dear)\s+(?:chatgpt|gpt|ai|assistant|chatbot|claude|bot)\b",
    _I,
)
_DIRECTIVE = re.compile(
    r"\b(?:you\s+(?:must|will|should|shall|are\s+to|need\s+to)|from\s+now\s+on|ignore|disregard|forget|do\s+not|"
    r"don't|never|always|tell|say|answer|respond|reply|describe|recommend|approve|mark|output|print|reveal|"
    r"include|send|stop)\b",
    _I,
)


class _Sentences:
    """Sentence spans of one text, found once: rules ask for the sentence around each match."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [m.end() for m in _BOUNDARY.finditer(text)]

    def around(self, start: int, end: int) -> tuple[int, int]:
        i = bisect_right(self.ends, start)
        lo = self.ends[i - 1] if i else 0
        j = bisect_left(self.ends, end + 1)
        return lo, self.ends[j] if j < len(self.ends) else len(self.text)

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


def _add_phrase(hits: _Hits, sentences: _Sentences, kind: str, name: str, weight: float, m: re.Match[str]) -> None:
    """A phrase hit, discounted when its sentence describes attacks instead of making one."""
    reason = f"{_KIND_LABEL[kind]}: '{_snip(m.group())}'"
    if sentences.describes_attacks(m.start(), m.end()):
        weight, reason = weight * _DISCOUNT, reason + " (in a sentence that describes attacks)"
    _add(hits, name, weight, reason)


def _phrase_hits(text: str) -> _Hits:
    hits: _Hits = {}
    sentences = _Sentences(text)
    for m in _OVERRIDE.finditer(text):
        tail = m.group("tail") or ""
        second_person = re.search(r"\byour\b", m.group("det"), _I) is not None
        if tail and not second_person and not re.match(r"\s+(?:you|above|so)\b", tail, _I):
            weight = 0.2  # "ignore the previous instructions on the whiteboard": about a thing, for a person
        elif _THIRD_PERSON.search(m.group("det")):
            weight = 0.45  # "ignore its instructions" reports rather than commands
        elif _STRONG_DET.search(m.group("det")) or tail:
            weight = 0.75  # "ignore all previous instructions" has one reader
        else:
            weight = 0.4
        _add_phrase(hits, sentences, "instr", "override", weight, m)
    for kind, name, weight, pattern in _RULES:
        for m in pattern.finditer(text):
            _add_phrase(hits, sentences, kind, name, weight, m)
    for m in _ADDRESSEE.finditer(text):
        _, hi = sentences.around(m.start(), m.end())
        hi = min(hi, m.end() + 300)
        directed = m.group().rstrip().endswith(":") or _DIRECTIVE.search(text, m.end(), hi) is not None
        # Naming the model is suspicious; naming it and then telling it what to do is an instruction.
        _add_phrase(hits, sentences, "instr", "addressee", 0.55 if directed else 0.35, m)
    _exfil_phrases(text, hits)
    return hits


# --- exfiltration ------------------------------------------------------------------------------

_DATA_WORDS = re.compile(
    r"chat|histor|conversation|convo|message|msg|prompt|context|ctx|question|answer|summary|transcript|memory|"
    r"e-?mail|passw|\bpw\b|token|secret|api_?key|credential|session|user|phone|address",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^\s*(?:\{.*\}?|\[.*\]?|<.*>?|\$\w+|%7B.*|[A-Z][A-Z_]{2,})\s*$")
_MD_LINK = re.compile(r"(!?)\[[^\]\n]{0,300}\]\( ?(https?://[^)\n]{0,2000}?) ?\)")
_URL = re.compile(r"https?://[^\s\"'<>]+(?:<[^\s>]*>)?")
_SEND = re.compile(
    r"\b(?:send|post|forward|upload|transmit|submit|leak|exfiltrate|e-?mail|share|copy|sende|schicke|übermittle)\b"
    r"(?P<obj>(?:[^.!?\n]|[.?](?=\S)){0,80}?)\b(?:to|an)\s+https?://",
    _I,
)
_SENT_DATA = re.compile(
    r"conversation|chat|histor|messages|prompt|context|transcript|summary|\bthe\s+above\b|user'?s|the\s+user|credentials|"
    r"password|api\s*key|verlauf|nachrichten",
    _I,
)
_INCLUDE = re.compile(
    r"\b(?:(?:include|append|add|insert|embed|encode|put|attach|copy|paste|write|place|substitute)[sd]?|"
    r"replace\s+\w+\s+with|fill\s+in)\b"
    r"(?:[^.!?\n]|[.?](?=\S)){0,80}?(?:\b(?:user'?s|users')\s+(?:\w+\s+){0,2}(?:e-?mail|password|api\s*key|token|"
    r"credentials?|messages?|questions?|names?|address(?:es)?|phone|history)\b|\bthe\s+conversation\b|\bchat\s*history\b|"
    r"\bconversation\s+history\b|\bprevious\s+messages\b)",
    _I,
)
_LINK_CONTEXT = re.compile(r"https?://|\blinks?\b|\burl\b|\bimage\b|\?\w+=", _I)


def _exfil_phrases(text: str, hits: _Hits) -> None:
    for m in _SEND.finditer(text):
        if _SENT_DATA.search(m.group("obj")):
            _add(hits, "send_data", 0.7, f"data exfiltration: '{_snip(m.group())}'")
    for m in _INCLUDE.finditer(text):
        # Putting the user's data into a link is the leak; "include the customer's email in the ticket" is not.
        linked = _LINK_CONTEXT.search(text) is not None
        _add(hits, "include_data", 0.6 if linked else 0.25, f"data exfiltration: '{_snip(m.group())}'")


def _url_hits(text: str, hits: _Hits) -> None:
    """URLs whose query would carry conversation data when the model fills it in."""
    seen: set[str] = set()
    found = [(m.group(2), "markdown image" if m.group(1) else "markdown link") for m in _MD_LINK.finditer(text)]
    found += [(m.group().rstrip(".,;:)]'\""), "URL") for m in _URL.finditer(text)]
    for url, where in found:
        if url in seen:
            continue
        seen.add(url)
        try:
            query = urlsplit(url).query
        except ValueError:
            continue
        pairs = parse_qsl(query, keep_blank_values=True)
        filled = [(k, v) for k, v in pairs if _PLACEHOLDER.match(v)]
        about_data = [(k, v) for k, v in filled if _DATA_WORDS.search(k + " " + v)]
        if filled and where == "markdown image":
            # An image is fetched without a click: its query leaves as soon as the answer renders.
            _add(hits, "md_image", 0.75, f"data exfiltration: markdown image URL fills '{filled[0][1]}'")
        elif about_data and where == "markdown link":
            _add(hits, "md_link", 0.6, f"data exfiltration: link URL fills '{about_data[0][1]}'")
        elif about_data:
            # A bare URL is not fetched by itself, and mail-merge links look the same: weaker.
            _add(hits, "url_data", 0.35, f"data exfiltration: URL fills '{about_data[0][1]}'")
        if pairs and pairs[-1][1] == "" and query.endswith("="):
            _add(hits, "open_param", 0.3, f"data exfiltration: URL ends in an empty '{pairs[-1][0]}=' to append to")


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
_BIDI_SPAN = re.compile(f"[{_BIDI_OVERRIDE}\u202a\u202b\u2066-\u2068]([^\u202c\u2069]*)")


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
    zero_width = [i for i, c in enumerate(text) if c in _ZERO_WIDTH and not _legit_joiner(text, i)]
    if zero_width:
        run = max(len(m.group()) for m in re.finditer(f"[{_ZERO_WIDTH}]+", text))
        # One stray zero-width space is a copy-paste accident; several, or a run that encodes bits, is not.
        weight = 0.8 if run >= 8 else 0.55 if len(zero_width) >= 3 else 0.3
        _add(hits, "zero_width", weight, f"hidden text: {len(zero_width)} zero-width or invisible characters")
    if any(c in _BIDI_OVERRIDE for c in text):
        _add(hits, "bidi", 0.55, "hidden text: bidi override characters reorder what a reader sees")
    elif any(c in _BIDI_OTHER for c in text):
        _add(hits, "bidi", 0.3, "hidden text: bidi embedding or isolate characters")
    spans += [("bidi-controlled text", m.group(1)) for m in _BIDI_SPAN.finditer(text)]
    tags = [c for c in _FLAG_TAGS.sub("", text) if "\U000e0000" <= c <= "\U000e007f"]
    if tags:
        decoded = "".join(chr(ord(c) - 0xE0000) for c in tags if "\U000e0020" <= c <= "\U000e007e")
        # Tag characters render as nothing but a model reads them as ASCII ("ASCII smuggling").
        _add(hits, "tags", 0.6, f"hidden text: unicode tag characters spelling '{_snip(decoded)}'")
        spans.append(("unicode tag characters", decoded))
    for where, content in _hidden_markup(text):
        # A comment or a hidden menu alone is normal markup; what it says decides (in `screen`).
        _add(hits, f"markup:{where}", 0.2 if where == "invisible HTML" else 0.15, f"hidden text: {where}")
        spans.append((where, content))
    for m in _LONG_SPACE.finditer(text):
        if not text[m.end(): m.end() + 1].strip():
            continue  # trailing padding hides nothing
        _add(hits, "long_space", 0.25, f"hidden text: {len(m.group())} whitespace characters before more text")
        spans.append(("text after a long whitespace run", text[m.end(): m.end() + _MAX_SPAN_CHARS]))
    return spans


def screen(text: str) -> Screening:
    """Score one chunk for indirect prompt injection, with the reasons."""
    hits: _Hits = {}
    for where, content in _hidden_hits(text, hits)[:_MAX_SPANS]:
        inner = _phrase_hits(_normalise(content[:_MAX_SPAN_CHARS]))
        if inner:
            _, reason = max(inner.values())
            # Hidden from the reader yet written for the model: the strongest sign of a planted instruction.
            _add(hits, "hidden_instruction", 0.6, f"hidden text in {where} carries {reason}")
    _url_hits(text, hits)
    for name, (weight, reason) in _phrase_hits(_normalise(text)).items():
        _add(hits, name, weight, reason)
    remaining = 1.0
    for weight, _ in hits.values():
        remaining *= 1.0 - weight
    ordered = sorted(hits.values(), key=lambda hit: -hit[0])
    return Screening(score=round(1.0 - remaining, 4), reasons=tuple(reason for _, reason in ordered))
