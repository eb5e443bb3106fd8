#!/usr/bin/env python3
"""Render a `tmux capture-pane -e -p -J` dump (text + SGR escapes) into a PNG.

Usage:
    ansi2png.py --cols 120 [--rows 36] screen.ansi [-o screen.png]
    ansi2png.py --cols 120 a.ansi b.ansi c.ansi      # writes a.png b.png c.png

The capture is laid out on a fixed grid of character cells: `--cols` columns
(the tmux pane width) and one row per captured line (or `--rows`, padding with
empty rows / cutting extra ones). Supported SGR attributes: reset (0), bold (1),
dim (2), italic (3), underline (4, 4:x, 21), blink (ignored), reverse (7),
hidden (8), strikethrough (9), overline (53), their resets (22-29, 55), the 16
ANSI colours (30-37, 40-47, 90-97, 100-107), 256 colours (38;5;N / 48;5;N),
truecolor (38;2;R;G;B / 48;2;R;G;B, also the colon forms), default colours
(39 / 49) and the underline colour (58 / 59). Other escape sequences (OSC
hyperlinks, cursor movement, ...) are skipped.

Text is drawn with DejaVu Sans Mono (regular / bold / oblique). Box-drawing
characters (U+2500-U+257F), block elements (U+2580-U+259F) and braille
(U+2800-U+28FF) are drawn as shapes so neighbouring cells join without gaps,
like a real terminal does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

# --------------------------------------------------------------------------
# Colours

DEFAULT_BG = (0x1E, 0x1E, 0x2E)
DEFAULT_FG = (0xCD, 0xD6, 0xF4)

# The 16 ANSI colours (Catppuccin Mocha terminal palette, matches the bg).
ANSI16 = [
    (0x45, 0x47, 0x5A),  # 0 black
    (0xF3, 0x8B, 0xA8),  # 1 red
    (0xA6, 0xE3, 0xA1),  # 2 green
    (0xF9, 0xE2, 0xAF),  # 3 yellow
    (0x89, 0xB4, 0xFA),  # 4 blue
    (0xF5, 0xC2, 0xE7),  # 5 magenta
    (0x94, 0xE2, 0xD5),  # 6 cyan
    (0xBA, 0xC2, 0xDE),  # 7 white
    (0x58, 0x5B, 0x70),  # 8 bright black
    (0xF7, 0xA1, 0xB9),  # 9 bright red
    (0xBA, 0xEE, 0xB6),  # 10 bright green
    (0xFB, 0xEA, 0xC4),  # 11 bright yellow
    (0xA4, 0xC6, 0xFB),  # 12 bright blue
    (0xF8, 0xD2, 0xEE),  # 13 bright magenta
    (0xAF, 0xEB, 0xE1),  # 14 bright cyan
    (0xA6, 0xAD, 0xC8),  # 15 bright white
]


def xterm256(n: int) -> tuple[int, int, int]:
    if n < 16:
        return ANSI16[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    g = 8 + 10 * (n - 232)
    return (g, g, g)


def blend(a, b, t: float):
    """Mix colour a towards b by t (0 = a, 1 = b)."""
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def parse_hex(s: str) -> tuple[int, int, int]:
    s = s.lstrip("#")
    if len(s) != 6:
        raise argparse.ArgumentTypeError(f"expected #rrggbb, got {s!r}")
    return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))


# --------------------------------------------------------------------------
# SGR parsing

# A colour is None (terminal default) or an (r, g, b) tuple.


@dataclass(frozen=True)
class Style:
    fg: tuple | None = None
    bg: tuple | None = None
    ul_color: tuple | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: int = 0  # 0 none, 1 single, 2 double, 3 curly, 4 dotted, 5 dashed
    reverse: bool = False
    hidden: bool = False
    strike: bool = False
    overline: bool = False


PLAIN = Style()


def _ext_colour(params: list[list[int]], i: int):
    """Parse an extended colour starting at params[i] (which is 38/48/58).

    Handles both `38;5;N` / `38;2;R;G;B` (separate params) and
    `38:5:N` / `38:2::R:G:B` / `38:2:R:G:B` (colon sub-params).
    Returns (colour or None, index of the next param)."""
    head = params[i]
    if len(head) > 1:  # colon form, everything is in this param
        sub = head[1:]
        if sub and sub[0] == 5 and len(sub) >= 2:
            return xterm256(sub[1] & 0xFF), i + 1
        if sub and sub[0] == 2:
            rgb = sub[1:]
            if len(rgb) >= 4:  # colour-space id present (possibly empty)
                rgb = rgb[1:4]
            if len(rgb) >= 3:
                return tuple(v & 0xFF for v in rgb[:3]), i + 1
        return None, i + 1
    flat = [p[0] if p else 0 for p in params[i + 1 :]]
    if flat and flat[0] == 5 and len(flat) >= 2:
        return xterm256(flat[1] & 0xFF), i + 3
    if flat and flat[0] == 2 and len(flat) >= 4:
        return tuple(v & 0xFF for v in flat[1:4]), i + 5
    return None, len(params)


def apply_sgr(style: Style, param_str: str) -> Style:
    if param_str == "":
        return PLAIN
    params: list[list[int]] = []
    for p in param_str.split(";"):
        sub = []
        for s in p.split(":"):
            try:
                sub.append(int(s) if s else 0)
            except ValueError:
                sub.append(0)
        params.append(sub)
    s = style
    i = 0
    while i < len(params):
        p = params[i]
        code = p[0] if p else 0
        if code in (38, 48, 58):
            col, i = _ext_colour(params, i)
            if col is not None:
                if code == 38:
                    s = replace(s, fg=col)
                elif code == 48:
                    s = replace(s, bg=col)
                else:
                    s = replace(s, ul_color=col)
            continue
        i += 1
        if code == 0:
            s = PLAIN
        elif code == 1:
            s = replace(s, bold=True)
        elif code == 2:
            s = replace(s, dim=True)
        elif code == 3:
            s = replace(s, italic=True)
        elif code == 4:
            kind = p[1] if len(p) > 1 else 1
            s = replace(s, underline=kind)
        elif code == 7:
            s = replace(s, reverse=True)
        elif code == 8:
            s = replace(s, hidden=True)
        elif code == 9:
            s = replace(s, strike=True)
        elif code == 21:
            s = replace(s, underline=2)
        elif code == 22:
            s = replace(s, bold=False, dim=False)
        elif code == 23:
            s = replace(s, italic=False)
        elif code == 24:
            s = replace(s, underline=0)
        elif code == 27:
            s = replace(s, reverse=False)
        elif code == 28:
            s = replace(s, hidden=False)
        elif code == 29:
            s = replace(s, strike=False)
        elif code == 53:
            s = replace(s, overline=True)
        elif code == 55:
            s = replace(s, overline=False)
        elif code == 59:
            s = replace(s, ul_color=None)
        elif 30 <= code <= 37:
            s = replace(s, fg=ANSI16[code - 30])
        elif code == 39:
            s = replace(s, fg=None)
        elif 40 <= code <= 47:
            s = replace(s, bg=ANSI16[code - 40])
        elif code == 49:
            s = replace(s, bg=None)
        elif 90 <= code <= 97:
            s = replace(s, fg=ANSI16[code - 90 + 8])
        elif 100 <= code <= 107:
            s = replace(s, bg=ANSI16[code - 100 + 8])
        # 5, 6 (blink), 25, and anything unknown: ignored
    return s


# CSI ... final byte, OSC ... (BEL | ST), other two-byte ESC sequences.
ESC_RE = re.compile(
    r"\x1b\[([0-?]*)([ -/]*)([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS / SOS / PM / APC
    r"|\x1b[ -/]*[0-~]"  # other ESC sequences
)


def char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


@dataclass
class Cell:
    ch: str = " "
    style: Style = PLAIN
    width: int = 1  # 2 = wide char, 0 = right half of a wide char


def parse_capture(text: str, cols: int) -> list[list[Cell]]:
    """Turn the capture into rows of `cols` cells. SGR state carries across
    lines, as tmux only emits the differences between consecutive cells.
    A line longer than `cols` (a wrapped line joined by -J) is split."""
    rows: list[list[Cell]] = []
    style = PLAIN
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        line = line.rstrip("\r")
        row: list[Cell] = []
        pos = 0
        for m in ESC_RE.finditer(line):
            chunk = line[pos : m.start()]
            pos = m.end()
            _put_text(row, chunk, style, cols, rows)
            if m.group(3) == "m" and not m.group(2):
                params = m.group(1)
                if params.startswith(("<", "=", ">", "?")):
                    continue  # private SGR-like sequences, not colours
                style = apply_sgr(style, params)
        _put_text(row, line[pos:], style, cols, rows)
        rows.append(row)
    for row in rows:
        while len(row) < cols:
            row.append(Cell())
    return rows


def _put_text(row: list[Cell], chunk: str, style: Style, cols: int, rows: list) -> None:
    for ch in chunk:
        if ch == "\t":
            n = 8 - (len(row) % 8)
            for _ in range(n):
                _put_text(row, " ", style, cols, rows)
            continue
        if ch < " " or ch == "\x7f":
            continue
        w = char_width(ch)
        if w == 0:
            if row:  # combining mark: attach to the previous cell
                target = row[-1] if row[-1].width != 0 else row[-2]
                target.ch += ch
            continue
        if len(row) + w > cols:  # soft wrap
            while len(row) < cols:
                row.append(Cell(style=style))
            rows.append(list(row))
            row.clear()
        row.append(Cell(ch, style, w))
        if w == 2:
            row.append(Cell("", style, 0))


# --------------------------------------------------------------------------
# Fonts


def fc_match(pattern: str) -> str | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


DEJAVU_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    os.path.expanduser("~/.local/share/fonts"),
    os.path.expanduser("~/Library/Fonts"),
]


def find_font(filename: str, fc_pattern: str, required: bool) -> str | None:
    for d in DEJAVU_DIRS:
        p = os.path.join(d, filename)
        if os.path.isfile(p):
            return p
    p = fc_match(fc_pattern)
    if p and os.path.isfile(p):
        return p
    if required:
        sys.exit(
            f"ansi2png: cannot find font {filename}; install fonts-dejavu-core "
            "(apt-get install fonts-dejavu-core) or pass --font PATH"
        )
    return None


class Fonts:
    def __init__(self, regular: str, bold: str | None, italic: str | None,
                 bold_italic: str | None, size: int):
        self.size = size
        self.regular = ImageFont.truetype(regular, size)
        self.bold = ImageFont.truetype(bold, size) if bold else self.regular
        self.italic = ImageFont.truetype(italic, size) if italic else self.regular
        self.bold_italic = ImageFont.truetype(bold_italic, size) if bold_italic else self.bold
        self.mono = (self.regular, self.bold, self.italic, self.bold_italic)
        # Proportional DejaVu Sans as a fallback for symbols the mono font lacks.
        fb = find_font("DejaVuSans.ttf", "DejaVu Sans", required=False)
        self.fallback = ImageFont.truetype(fb, size) if fb else None
        self._notdef: dict[int, bytes] = {}
        self._by_char: dict[str, object] = {}
        self._by_path: dict[str, object] = {}

    def fallback_for(self, ch: str):
        """A font that has `ch`: DejaVu Sans, else whatever fontconfig finds."""
        if ch in self._by_char:
            return self._by_char[ch]
        found = None
        if self.fallback is not None and self.has_glyph(self.fallback, ch):
            found = self.fallback
        else:
            path = fc_match(f":charset={ord(ch):x}")
            if path and os.path.isfile(path):
                font = self._by_path.get(path)
                if font is None:
                    try:
                        font = ImageFont.truetype(path, self.size)
                    except OSError:
                        font = False
                    self._by_path[path] = font
                if font and self.has_glyph(font, ch):
                    found = font
        self._by_char[ch] = found
        return found

    def pick(self, style: Style):
        if style.bold and style.italic:
            return self.bold_italic
        if style.bold:
            return self.bold
        if style.italic:
            return self.italic
        return self.regular

    def has_glyph(self, font, ch: str) -> bool:
        key = id(font)
        if key not in self._notdef:
            self._notdef[key] = _mask_sig(font, "\U0010fffd")
        return _mask_sig(font, ch) != self._notdef[key]


def _mask_sig(font, ch: str) -> bytes:
    m = font.getmask(ch)
    return bytes(m.size) + bytes(m)


# --------------------------------------------------------------------------
# Shapes drawn by hand: box drawing, block elements, braille

LIGHT, HEAVY, DOUBLE = 1, 2, 3


@lru_cache(maxsize=None)
def box_arms(ch: str):
    """(up, right, down, left) weights for a box-drawing character, derived
    from its Unicode name. Returns None for chars that need special handling."""
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    if not name.startswith("BOX DRAWINGS "):
        return None
    name = name[len("BOX DRAWINGS ") :]
    if "DASH" in name or "ARC" in name or "DIAGONAL" in name:
        return None
    weights = {"LIGHT": LIGHT, "SINGLE": LIGHT, "HEAVY": HEAVY, "DOUBLE": DOUBLE}
    dirs = {
        "UP": ("u",), "DOWN": ("d",), "LEFT": ("l",), "RIGHT": ("r",),
        "HORIZONTAL": ("l", "r"), "VERTICAL": ("u", "d"),
    }
    segments = name.split(" AND ")
    default_w = None
    for seg in segments:
        for word in seg.split():
            if word in weights:
                default_w = weights[word]
                break
        if default_w:
            break
    arms = {"u": 0, "r": 0, "d": 0, "l": 0}
    for seg in segments:
        words = seg.split()
        w = next((weights[x] for x in words if x in weights), default_w or LIGHT)
        for x in words:
            for a in dirs.get(x, ()):
                arms[a] = w
    return (arms["u"], arms["r"], arms["d"], arms["l"])


class ShapeRenderer:
    """Produces 'L' masks (cell-sized, 255 = ink) for hand-drawn characters."""

    def __init__(self, cw: int, ch: int):
        self.cw, self.ch = cw, ch
        self.light = max(1, round(cw / 9))
        self.heavy = self.light + max(1, round(cw / 9))
        if self.heavy - self.light < 1:
            self.heavy = self.light + 1
        self.gap = max(1, round(cw / 9))  # half-distance between double lines
        self.cache: dict[str, Image.Image | None] = {}

    def mask(self, c: str):
        if c in self.cache:
            return self.cache[c]
        m = self._make(c)
        self.cache[c] = m
        return m

    def _make(self, c: str):
        o = ord(c)
        if 0x2500 <= o <= 0x257F:
            return self._box(c)
        if 0x2580 <= o <= 0x259F:
            return self._block(o)
        if 0x2800 <= o <= 0x28FF:
            return self._braille(o - 0x2800)
        if c in "\U0001FB82\U0001FB83\U0001FB84\U0001FB85\U0001FB86\U0001FB87\U0001FB88\U0001FB89\U0001FB8A\U0001FB8B":
            return self._legacy(o)
        return None

    # -- helpers
    def _new(self):
        return Image.new("L", (self.cw, self.ch), 0)

    def _rect(self, d, x0, y0, x1, y1):
        """Fill [x0, x1) x [y0, y1) (half-open, clipped)."""
        x0, y0 = max(0, round(x0)), max(0, round(y0))
        x1, y1 = min(self.cw, round(x1)), min(self.ch, round(y1))
        if x1 > x0 and y1 > y0:
            d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=255)

    def _thick(self, w):
        return self.heavy if w == HEAVY else self.light

    # -- box drawing
    def _box(self, c: str):
        cw, chh = self.cw, self.ch
        cx, cy = cw // 2, chh // 2
        img = self._new()
        d = ImageDraw.Draw(img)
        try:
            name = unicodedata.name(c)
        except ValueError:
            return None
        heavy = "HEAVY" in name
        t = self.heavy if heavy else self.light

        def hline(x0, x1, y, th):
            self._rect(d, x0, y - th // 2, x1, y - th // 2 + th)

        def vline(y0, y1, x, th):
            self._rect(d, x - th // 2, y0, x - th // 2 + th, y1)

        if "DASH" in name:
            n = 2 if "DOUBLE DASH" in name else 3 if "TRIPLE" in name else 4
            if "HORIZONTAL" in name:
                seg = cw / n
                for k in range(n):
                    hline(k * seg, k * seg + max(1, seg * 0.6), cy, t)
            else:
                seg = chh / n
                for k in range(n):
                    vline(k * seg, k * seg + max(1, seg * 0.6), cx, t)
            return img
        if "DIAGONAL" in name:
            s = 4
            big = Image.new("L", (cw * s, chh * s), 0)
            bd = ImageDraw.Draw(big)
            lw = self.light * s
            if "UPPER RIGHT TO LOWER LEFT" in name or "CROSS" in name:
                bd.line([(cw * s, 0), (0, chh * s)], fill=255, width=lw)
            if "UPPER LEFT TO LOWER RIGHT" in name or "CROSS" in name:
                bd.line([(0, 0), (cw * s, chh * s)], fill=255, width=lw)
            return big.resize((cw, chh), Image.LANCZOS)
        if "ARC" in name:
            return self._arc(name)

        arms = box_arms(c)
        if arms is None:
            return None
        up, right, down, left = arms
        g = self.gap
        lt = self.light

        # single / heavy arms meet the perpendicular line(s) without stubs
        vt = max((self._thick(w) for w in (up, down) if w in (LIGHT, HEAVY)), default=0)
        ht = max((self._thick(w) for w in (left, right) if w in (LIGHT, HEAVY)), default=0)
        vdouble = DOUBLE in (up, down)
        hdouble = DOUBLE in (left, right)

        def arm_end(near_double, far_arm, t):
            """(start offset, end offset) of the span an arm covers around the
            centre: returns how far it extends past the centre."""
            if near_double:
                return g + 1 if far_arm else -g + 1
            if t:
                return t - t // 2
            return 0

        if left in (LIGHT, HEAVY):
            hline(0, cx + arm_end(vdouble, right, vt), cy, self._thick(left))
        if right in (LIGHT, HEAVY):
            start = (cx - g if left else cx + g) if vdouble else (cx - vt // 2 if vt else cx)
            hline(start, cw, cy, self._thick(right))
        if up in (LIGHT, HEAVY):
            vline(0, cy + arm_end(hdouble, down, ht), cx, self._thick(up))
        if down in (LIGHT, HEAVY):
            start = (cy - g if up else cy + g) if hdouble else (cy - ht // 2 if ht else cy)
            vline(start, chh, cx, self._thick(down))

        # double arms: two parallel lines at centre +- g
        for arm, w in (("u", up), ("r", right), ("d", down), ("l", left)):
            if w != DOUBLE:
                continue
            if arm in ("l", "r"):
                for side, y in (("u", cy - g), ("d", cy + g)):
                    perp = up if side == "u" else down
                    other = down if side == "u" else up
                    if perp == DOUBLE:
                        ext = -g  # stop at the inner corner
                    elif perp:  # single/heavy perpendicular arm
                        ext = 0
                    elif other == DOUBLE:
                        ext = g  # outer line runs to the far vertical line
                    elif other:
                        ext = 0
                    else:
                        ext = g + lt  # plain horizontal: straight through
                    if arm == "l":
                        hline(0, cx + ext + (1 if ext >= 0 else 0), y, lt)
                    else:
                        hline(cx - ext, cw, y, lt)
            else:
                for side, x in (("l", cx - g), ("r", cx + g)):
                    perp = left if side == "l" else right
                    other = right if side == "l" else left
                    if perp == DOUBLE:
                        ext = -g
                    elif perp:
                        ext = 0
                    elif other == DOUBLE:
                        ext = g
                    elif other:
                        ext = 0
                    else:
                        ext = g + lt
                    if arm == "u":
                        vline(0, cy + ext + (1 if ext >= 0 else 0), x, lt)
                    else:
                        vline(cy - ext, chh, x, lt)
        return img

    def _arc(self, name: str):
        """Rounded corners: ╭ ╮ ╯ ╰ (drawn supersampled, then downscaled)."""
        s = 4
        cw, chh = self.cw, self.ch
        cx, cy = (cw // 2) * s, (chh // 2) * s
        lw = self.light * s
        big = Image.new("L", (cw * s, chh * s), 0)
        d = ImageDraw.Draw(big)
        r = min(cw, chh) // 2 * s
        # line centre offsets (the 1px line occupies [cx, cx + lw))
        lx = cx + lw / 2
        ly = cy + lw / 2
        down = "DOWN" in name
        right = "RIGHT" in name
        # corner centre of the arc circle
        ox = lx + (r if right else -r)
        oy = ly + (r if down else -r)
        bbox = [ox - r, oy - r, ox + r, oy + r]
        if down and right:
            start, end = 180, 270
        elif down and not right:
            start, end = 270, 360
        elif not down and right:
            start, end = 90, 180
        else:
            start, end = 0, 90
        # Pillow draws the stroke inward from the bbox; compensate by half width
        half = lw / 2
        d.arc([bbox[0] - half, bbox[1] - half, bbox[2] + half, bbox[3] + half],
              start, end, fill=255, width=lw)
        # straight parts from the arc to the cell edges
        if right:
            d.rectangle([ox, cy, cw * s, cy + lw - 1], fill=255)
        else:
            d.rectangle([0, cy, ox, cy + lw - 1], fill=255)
        if down:
            d.rectangle([cx, oy, cx + lw - 1, chh * s], fill=255)
        else:
            d.rectangle([cx, 0, cx + lw - 1, oy], fill=255)
        return big.resize((cw, chh), Image.BOX)

    # -- block elements
    def _block(self, o: int):
        cw, chh = self.cw, self.ch
        img = self._new()
        d = ImageDraw.Draw(img)
        R = lambda *a: self._rect(d, *a)  # noqa: E731
        if o == 0x2580:  # ▀ upper half
            R(0, 0, cw, chh / 2)
        elif 0x2581 <= o <= 0x2588:  # ▁..█ lower n/8
            n = o - 0x2580
            R(0, chh - chh * n / 8, cw, chh)
        elif 0x2589 <= o <= 0x258F:  # ▉..▏ left n/8
            n = 0x2590 - o
            R(0, 0, cw * n / 8, chh)
        elif o == 0x2590:  # ▐ right half
            R(cw / 2, 0, cw, chh)
        elif o in (0x2591, 0x2592, 0x2593):  # ░ ▒ ▓ shades
            level = {0x2591: 64, 0x2592: 128, 0x2593: 192}[o]
            return Image.new("L", (cw, chh), level)
        elif o == 0x2594:  # ▔ upper 1/8
            R(0, 0, cw, chh / 8)
        elif o == 0x2595:  # ▕ right 1/8
            R(cw - cw / 8, 0, cw, chh)
        else:  # quadrants U+2596..U+259F
            quads = {
                0x2596: "3", 0x2597: "4", 0x2598: "1", 0x2599: "134",
                0x259A: "14", 0x259B: "123", 0x259C: "124", 0x259D: "2",
                0x259E: "23", 0x259F: "234",
            }[o]
            hx, hy = cw / 2, chh / 2
            boxes = {"1": (0, 0, hx, hy), "2": (hx, 0, cw, hy),
                     "3": (0, hy, hx, chh), "4": (hx, hy, cw, chh)}
            for q in quads:
                R(*boxes[q])
        return img

    def _legacy(self, o: int):
        """A few 'Symbols for Legacy Computing' eighth blocks."""
        cw, chh = self.cw, self.ch
        img = self._new()
        d = ImageDraw.Draw(img)
        upper = {0x1FB82: 2, 0x1FB83: 3, 0x1FB84: 5, 0x1FB85: 6, 0x1FB86: 7}
        right = {0x1FB87: 2, 0x1FB88: 3, 0x1FB89: 5, 0x1FB8A: 6, 0x1FB8B: 7}
        if o in upper:
            self._rect(d, 0, 0, cw, chh * upper[o] / 8)
        elif o in right:
            self._rect(d, cw - cw * right[o] / 8, 0, cw, chh)
        return img

    # -- braille
    def _braille(self, bits: int):
        cw, chh = self.cw, self.ch
        img = self._new()
        if not bits:
            return img
        s = 4
        big = Image.new("L", (cw * s, chh * s), 0)
        d = ImageDraw.Draw(big)
        # dot order: (col, row) for bits 0..7
        pos = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
        dot = max(2.0, min(cw / 4.0, chh / 8.0) * 1.15) * s
        for bit, (col, row) in enumerate(pos):
            if bits & (1 << bit):
                x = (cw * s) * (col * 2 + 1) / 4
                y = (chh * s) * (row * 2 + 1) / 8
                d.ellipse([x - dot / 2, y - dot / 2, x + dot / 2, y + dot / 2], fill=255)
        return big.resize((cw, chh), Image.BOX)


# --------------------------------------------------------------------------
# Rendering


class Renderer:
    def __init__(self, fonts: Fonts, default_fg, default_bg, pad: int):
        self.fonts = fonts
        ascent, descent = fonts.regular.getmetrics()
        self.cw = max(1, round(fonts.regular.getlength("M")))
        self.ch = ascent + descent + 1
        self.baseline = ascent + 1
        self.ascent, self.descent = ascent, descent
        self.fg, self.bg = default_fg, default_bg
        self.pad = pad
        self.shapes = ShapeRenderer(self.cw, self.ch)
        self._glyph_cache: dict = {}

    def colours(self, st: Style):
        fg = st.fg if st.fg is not None else self.fg
        bg = st.bg if st.bg is not None else self.bg
        if st.reverse:
            fg, bg = bg, fg
        if st.dim:
            fg = blend(fg, bg, 0.45)
        if st.hidden:
            fg = bg
        return fg, bg

    def render(self, rows: list[list[Cell]], cols: int) -> Image.Image:
        cw, chh, pad = self.cw, self.ch, self.pad
        W, H = cols * cw + 2 * pad, len(rows) * chh + 2 * pad
        img = Image.new("RGB", (W, H), self.bg)
        draw = ImageDraw.Draw(img)
        # pass 1: backgrounds
        for r, row in enumerate(rows):
            y = pad + r * chh
            for c, cell in enumerate(row[:cols]):
                _, bg = self.colours(cell.style)
                if bg != self.bg:
                    x = pad + c * cw
                    draw.rectangle([x, y, x + cw - 1, y + chh - 1], fill=bg)
        # pass 2: glyphs and decorations
        for r, row in enumerate(rows):
            y = pad + r * chh
            for c, cell in enumerate(row[:cols]):
                if cell.width == 0:
                    continue
                x = pad + c * cw
                fg, bg = self.colours(cell.style)
                st = cell.style
                if cell.ch and cell.ch != " " and fg != bg:
                    self._glyph(img, draw, x, y, cell, fg)
                wpx = cw * max(1, cell.width)
                if st.underline:
                    ul = st.ul_color or fg
                    uy = y + self.baseline + max(1, self.descent // 2) - 1
                    if st.underline == 3:  # curly
                        pts = [(x + i, uy + (1 if (i // 2) % 2 else 0)) for i in range(0, wpx + 1, 2)]
                        draw.line(pts, fill=ul, width=1)
                    elif st.underline in (4, 5):  # dotted / dashed
                        step = 2 if st.underline == 4 else 4
                        for i in range(0, wpx, step * 2):
                            draw.rectangle([x + i, uy, x + min(wpx, i + step) - 1, uy], fill=ul)
                    else:
                        draw.rectangle([x, uy, x + wpx - 1, uy], fill=ul)
                    if st.underline == 2:
                        draw.rectangle([x, uy + 2, x + wpx - 1, uy + 2], fill=ul)
                if st.strike:
                    sy = y + self.baseline - round(self.ascent * 0.3)
                    draw.rectangle([x, sy, x + wpx - 1, sy], fill=fg)
                if st.overline:
                    draw.rectangle([x, y, x + wpx - 1, y], fill=fg)
        return img

    def _glyph(self, img, draw, x, y, cell: Cell, fg):
        ch = cell.ch
        if len(ch) == 1:
            m = self.shapes.mask(ch)
            if m is not None:
                img.paste(fg, (x, y, x + self.cw, y + self.ch), m)
                return
        font = self.fonts.pick(cell.style)
        base = ch[0]
        if not self.fonts.has_glyph(font, base):
            if self.fonts.has_glyph(self.fonts.regular, base):
                font = self.fonts.regular
            else:
                font = self.fonts.fallback_for(base) or font
        wpx = self.cw * max(1, cell.width)
        adv = font.getlength(ch)
        if font not in self.fonts.mono or cell.width == 2 or adv > wpx + 1:
            # centre non-mono glyphs in their cell(s); shrink very wide ones
            if adv > wpx * 1.15 and adv > 0:
                font = self._scaled(font, wpx / adv)
                adv = font.getlength(ch)
            gx = x + (wpx - adv) / 2
        else:
            gx = x
        draw.text((gx, y + self.baseline), ch, font=font, fill=fg, anchor="ls")

    def _scaled(self, font, factor: float):
        key = (font.path, round(font.size * factor))
        f = self._glyph_cache.get(key)
        if f is None:
            f = ImageFont.truetype(font.path, max(6, key[1]))
            self._glyph_cache[key] = f
        return f


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", help="capture files (tmux capture-pane -e -p -J output)")
    ap.add_argument("-o", "--output", help="output PNG (only with a single input; default: input with .png)")
    ap.add_argument("--cols", type=int, required=True, help="pane width in cells")
    ap.add_argument("--rows", type=int, help="pane height in cells (default: number of captured lines)")
    ap.add_argument("--font", help="regular monospace font file (default: DejaVu Sans Mono)")
    ap.add_argument("--bold-font", help="bold font file (default: DejaVu Sans Mono Bold)")
    ap.add_argument("--font-size", type=int, default=15, help="font size in px (default 15 -> 9x19 cells)")
    ap.add_argument("--fg", type=parse_hex, default=DEFAULT_FG, help="default foreground #rrggbb")
    ap.add_argument("--bg", type=parse_hex, default=DEFAULT_BG, help="default background #rrggbb")
    ap.add_argument("--padding", type=int, default=8, help="border around the grid in px (default 8)")
    args = ap.parse_args(argv)

    if args.output and len(args.inputs) != 1:
        ap.error("-o/--output needs exactly one input")
    if args.cols < 1:
        ap.error("--cols must be positive")

    if args.font:
        regular = args.font
        bold = args.bold_font
        italic = bold_italic = None
    else:
        regular = find_font("DejaVuSansMono.ttf", "DejaVu Sans Mono", required=True)
        bold = args.bold_font or find_font("DejaVuSansMono-Bold.ttf", "DejaVu Sans Mono:bold", required=False)
        italic = find_font("DejaVuSansMono-Oblique.ttf", "DejaVu Sans Mono:oblique", required=False)
        bold_italic = find_font("DejaVuSansMono-BoldOblique.ttf", "DejaVu Sans Mono:bold:oblique", required=False)
    fonts = Fonts(regular, bold, italic, bold_italic, args.font_size)
    renderer = Renderer(fonts, args.fg, args.bg, args.padding)

    status = 0
    for path in args.inputs:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        rows = parse_capture(text, args.cols)
        if args.rows is not None:
            rows = rows[: args.rows]
            while len(rows) < args.rows:
                rows.append([Cell() for _ in range(args.cols)])
        if not rows:
            print(f"ansi2png: {path}: empty capture", file=sys.stderr)
            status = 1
            continue
        out = args.output or (os.path.splitext(path)[0] + ".png")
        img = renderer.render(rows, args.cols)
        img.save(out, optimize=True)
        print(f"ansi2png: {path} -> {out} ({img.width}x{img.height}, {args.cols}x{len(rows)} cells)",
              file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
