"""What a PDF's pages draw, read from their content streams: to tell a certificate file from a fresh rendering of
its signed payload.

Each page becomes the sequence of what it paints, in painting order (so that a shape moved on top of the grade is a
difference too): text (its font, size, colour, the characters shown and where, to 1 pt), filled and stroked paths
and clipping paths (their bounding boxes, colours and line widths), images and shadings (a digest of their data),
following form XObjects; then its boxes, its annotations and its marked-content (optional-content) sections. What
the drawing uses but does not show in the stream is compared by digest: the font programs and their metrics, and
the other resources (colour spaces, transparency). The Producer and Creator say which renderer made the file, so an
innocent difference of renderer can be told from an edit.

pypdf reads the file; a file that pypdf cannot read, or that draws absurdly much, raises PagesUnreadable.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field

MAX_PAGES = 16  # a certificate has one or two
MAX_CONTENT_BYTES = 4 << 20  # per content stream, decoded; a certificate's are some 60 KB
MAX_OPERATIONS = 200_000  # a certificate paints some 3,000
MAX_FORM_DEPTH = 8
MAX_DIGEST_NODES = 100_000
IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
PAINT = {b"S": "stroked", b"s": "stroked", b"f": "filled", b"F": "filled", b"f*": "filled", b"B": "filled+stroked",
         b"B*": "filled+stroked", b"b": "filled+stroked", b"b*": "filled+stroked", b"n": ""}
COLOUR = {b"g": "fill", b"rg": "fill", b"k": "fill", b"sc": "fill", b"scn": "fill",
          b"G": "stroke", b"RG": "stroke", b"K": "stroke", b"SC": "stroke", b"SCN": "stroke"}
CATALOG_UNSEEN = ("/Type", "/Pages", "/Names", "/Metadata", "/AF", "/Outlines", "/Lang")
BACK_REFERENCES = ("/P", "/Parent")  # up the tree: followed, they would digest the whole document


class PagesUnreadable(ValueError):
    """The PDF's pages could not be read to compare them."""


class _Malformed(ValueError):
    """One operation that no renderer writes: recorded as what the page draws, and the page read on."""


@dataclass
class Drawing:
    """What a PDF shows: per page the items it paints; the fonts by name and digest; the other resources' digest;
    the renderer's names."""

    pages: list[list[tuple]]
    fonts: dict[str, str]
    resources: str
    producer: str
    creator: str

    @property
    def renderer(self) -> str:
        return " / ".join(name for name in (self.producer, self.creator) if name) or "an unnamed renderer"


@dataclass
class Comparison:
    """A file's pages against a fresh rendering: `same` (they draw the same, with the same fonts and resources),
    `only_added` (everything the rendering draws is there, in order, and more), `same_fonts`, `same_names` (of the
    renderer: Producer and Creator) and the first few differences, in words."""

    same: bool
    only_added: bool
    same_fonts: bool
    same_names: bool
    differences: list[str] = field(default_factory=list)

    @property
    def same_renderer(self) -> bool:
        return self.same_fonts and self.same_names


def _multiply(m, n):
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2, e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2)


def _apply(m, x, y):
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def _numbers(operands, count=None) -> tuple[float, ...]:
    values = tuple(float(o) for o in operands if isinstance(o, int | float) and not isinstance(o, bool))
    if count is not None and len(values) != count:
        raise _Malformed(f"{len(values)} numbers where {count} are needed")
    return values


def _box(points) -> tuple[int, int, int, int]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))


class _Digest:
    """SHA-256 of a PDF object tree: dictionaries by sorted key, streams by their decoded data, references followed
    (but not round a cycle, and not past MAX_DIGEST_NODES)."""

    def __init__(self):
        self.nodes = 0
        self.cache: dict[tuple, str] = {}

    def __call__(self, obj, skip: tuple = ()) -> str:
        digest = hashlib.sha256()
        self._feed(digest, obj, frozenset(), skip)
        return digest.hexdigest()

    def _feed(self, digest, obj, path: frozenset, skip: tuple) -> None:
        from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

        self.nodes += 1
        if self.nodes > MAX_DIGEST_NODES:
            raise PagesUnreadable("the file's resources are too large to compare")
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in path:
                digest.update(b"<cycle>")
                return
            path = path | {key}
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            digest.update(b"<<")
            for name in sorted(obj):
                if name in skip or name in BACK_REFERENCES or \
                        (isinstance(obj, StreamObject) and name in ("/Length", "/Filter", "/DecodeParms")):
                    continue
                digest.update(name.encode("utf-8", "replace"))
                self._feed(digest, obj[name], path, ())
            digest.update(b">>")
            if isinstance(obj, StreamObject):
                digest.update(hashlib.sha256(obj.get_data()).digest())
        elif isinstance(obj, ArrayObject):
            digest.update(b"[")
            for item in obj:
                self._feed(digest, item, path, ())
            digest.update(b"]")
        else:
            digest.update(f"{type(obj).__name__}:{obj!r};".encode("utf-8", "replace"))


def _to_unicode(font) -> tuple[int, dict[bytes, str]]:
    """(bytes per character code, code → text) from a font's ToUnicode CMap; one-byte Latin-1 without one."""
    width = 2 if font.get("/Subtype") == "/Type0" else 1
    mapping: dict[bytes, str] = {}
    cmap = font.get("/ToUnicode")
    if cmap is None:
        return width, mapping
    text = cmap.get_object().get_data().decode("latin-1")

    def code(hexa: str) -> bytes:
        return bytes.fromhex(hexa if len(hexa) % 2 == 0 else "0" + hexa)

    def chars(hexa: str) -> str:
        raw = code(hexa)
        return raw.decode("utf-16-be", "replace") if len(raw) % 2 == 0 else raw.decode("latin-1")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for source, target in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            mapping[code(source)] = chars(target)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, target in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])",
                                            block):
            first, last = int(low, 16), int(high, 16)
            if last - first > 0xFFFF:
                continue
            size = len(code(low))
            targets = re.findall(r"<([0-9A-Fa-f]*)>", target)
            for offset in range(last - first + 1):
                source = (first + offset).to_bytes(size, "big")
                if target.startswith("["):
                    if offset < len(targets):
                        mapping[source] = chars(targets[offset])
                elif targets:
                    base = code(targets[0])
                    shifted = int.from_bytes(base, "big") + offset
                    mapping[source] = chars(shifted.to_bytes(len(base), "big").hex())
    return width, mapping


class _Font:
    def __init__(self, font):
        base = str(font.get("/BaseFont", "?"))
        # "ABCDEF+DejaVuSans": the six letters name a subset, which differs between renderings of other text.
        self.name = re.sub(r"^/?[A-Z]{6}\+", "", base).lstrip("/")
        self.width, self.mapping = _to_unicode(font)

    def decode(self, raw: bytes) -> str:
        if not self.mapping:
            return raw.decode("latin-1")
        codes = [raw[i:i + self.width] for i in range(0, len(raw), self.width)]
        return "".join(self.mapping.get(c, "\ufffd") for c in codes)


@dataclass
class _State:
    ctm: tuple = IDENTITY
    fill: tuple = ("/DeviceGray", 0.0)
    stroke: tuple = ("/DeviceGray", 0.0)
    fill_space: str = "/DeviceGray"
    stroke_space: str = "/DeviceGray"
    line: tuple = (1.0,)
    alpha: tuple = ()
    font: _Font | None = None
    font_size: float = 0.0
    render_mode: int = 0
    rise: float = 0.0
    leading: float = 0.0
    spacing: tuple = (0.0, 0.0, 100.0)  # character, word, horizontal scaling

    def copy(self) -> _State:
        return _State(**self.__dict__)


class _Reader:
    def __init__(self, reader):
        self.reader = reader
        self.digest = _Digest()
        self.fonts: dict[str, str] = {}
        self.resources: set[str] = set()
        self.operations = 0
        self._fonts: dict[int, _Font] = {}
        self._digested: set[int] = set()

    def page(self, page) -> list[tuple]:
        from pypdf.generic import ContentStream

        items: list[tuple] = [("page", *(tuple(round(float(v)) for v in page.mediabox)),
                               *(tuple(round(float(v)) for v in page.cropbox)), int(page.get("/Rotate", 0) or 0))]
        contents = page.get_contents()
        if contents is not None:
            self._run(ContentStream(_bounded(contents), self.reader), page.get("/Resources"), _State(), items, 0)
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            rect = tuple(round(float(v)) for v in annotation.get("/Rect", ()))
            items.append(("annotation", str(annotation.get("/Subtype", "?")), rect,
                          self.digest(annotation, skip=("/Popup", "/IRT"))[:16]))
        return items

    def _font(self, resources, name) -> _Font | None:
        fonts = resources.get("/Font") if resources is not None else None
        if fonts is None or name not in fonts:
            return None
        reference = fonts.raw_get(name)
        font = fonts[name].get_object()
        key = id(font) if not hasattr(reference, "idnum") else reference.idnum
        if key not in self._fonts:
            self._fonts[key] = _Font(font)
            # The font program and its metrics: a glyph redrawn in the font would not show in the content stream.
            self.fonts[f"{self._fonts[key].name}#{len(self.fonts)}"] = self.digest(font)
        return self._fonts[key]

    def _run(self, stream, resources, state: _State, items: list, depth: int) -> None:
        resources = resources.get_object() if resources is not None else None
        if resources is not None and id(resources) not in self._digested:
            self._digested.add(id(resources))
            self.resources.add(self.digest(resources, skip=("/Font", "/XObject")))
        stack: list[_State] = []
        path: list[tuple[float, float]] = []
        clip = False
        text_matrix = line_matrix = IDENTITY
        for operands, operator in stream.operations:
            self.operations += 1
            if self.operations > MAX_OPERATIONS:
                raise PagesUnreadable(f"the pages paint more than {MAX_OPERATIONS:,} operations")
            try:
                state, path, clip, text_matrix, line_matrix = self._operation(
                    operator, operands, resources, state, stack, path, clip, text_matrix, line_matrix, items, depth)
            except _Malformed:
                items.append(("malformed", operator.decode("latin-1")[:20]))

    def _operation(self, operator, operands, resources, state: _State, stack: list, path: list, clip: bool,
                   text_matrix, line_matrix, items: list, depth: int):
        """One content-stream operation: what it changes of the state, and what it paints onto `items`."""
        if operator == b"q":
            stack.append(state.copy())
        elif operator == b"Q":
            state = stack.pop() if stack else state
        elif operator == b"cm":
            state.ctm = _multiply(_numbers(operands, 6), state.ctm)
        elif operator == b"w":
            state.line = (round(_numbers(operands, 1)[0], 2), *state.line[1:])
        elif operator == b"d":
            state.line = (state.line[0], repr(operands)[:80])
        elif operator in (b"cs", b"CS"):
            space = str(operands[0]) if operands else "?"
            if operator == b"cs":
                state.fill_space = space
            else:
                state.stroke_space = space
        elif operator in COLOUR:
            values = tuple(round(v, 3) for v in _numbers(operands))
            names = tuple(str(o) for o in operands if not isinstance(o, int | float))
            if COLOUR[operator] == "fill":
                state.fill = (state.fill_space if operator in (b"sc", b"scn") else operator.decode(), *values,
                              *names)
            else:
                state.stroke = (state.stroke_space if operator in (b"SC", b"SCN") else operator.decode(), *values,
                                *names)
        elif operator == b"gs":
            states = resources.get("/ExtGState") if resources is not None else None
            graphics = states[operands[0]].get_object() if states is not None and operands and \
                operands[0] in states else {}
            state.alpha = tuple(sorted((str(k), repr(graphics[k])[:40]) for k in graphics
                                       if k in ("/ca", "/CA", "/BM", "/SMask", "/TK", "/OP", "/op")))
        elif operator in (b"m", b"l"):
            x, y = _numbers(operands, 2)
            path.append(_apply(state.ctm, x, y))
        elif operator in (b"c", b"v", b"y"):
            values = _numbers(operands)
            path.extend(_apply(state.ctm, values[i], values[i + 1]) for i in range(0, len(values) - 1, 2))
        elif operator == b"re":
            x, y, w, h = _numbers(operands, 4)
            path.extend(_apply(state.ctm, px, py) for px, py in ((x, y), (x + w, y), (x, y + h), (x + w, y + h)))
        elif operator in (b"W", b"W*"):
            clip = True
        elif operator in PAINT:
            if path:
                if PAINT[operator]:
                    colours = ((state.fill,) if "filled" in PAINT[operator] else ()) + \
                        ((state.stroke, state.line) if "stroked" in PAINT[operator] else ())
                    items.append(("shape", PAINT[operator], _box(path), colours, state.alpha))
                if clip:
                    items.append(("clip", _box(path)))
            path, clip = [], False
        elif operator == b"BT":
            text_matrix = line_matrix = IDENTITY
        elif operator == b"Tf" and len(operands) == 2:
            state.font = self._font(resources, operands[0])
            state.font_size = float(operands[1])
        elif operator == b"Tr":
            state.render_mode = int(_numbers(operands, 1)[0])
        elif operator == b"Ts":
            state.rise = _numbers(operands, 1)[0]
        elif operator == b"TL":
            state.leading = _numbers(operands, 1)[0]
        elif operator in (b"Tc", b"Tw", b"Tz"):
            index = (b"Tc", b"Tw", b"Tz").index(operator)
            spacing = list(state.spacing)
            spacing[index] = round(_numbers(operands, 1)[0], 3)
            state.spacing = tuple(spacing)
        elif operator == b"Tm":
            text_matrix = line_matrix = _numbers(operands, 6)
        elif operator in (b"Td", b"TD", b"T*", b"'", b'"'):
            if operator == b"TD":
                state.leading = -_numbers(operands, 2)[1]
            x, y = _numbers(operands, 2) if operator in (b"Td", b"TD") else (0.0, -state.leading)
            text_matrix = line_matrix = _multiply((1.0, 0.0, 0.0, 1.0, x, y), line_matrix)
            if operator in (b"'", b'"'):
                self._text(items, state, text_matrix, operands[-1:])
        elif operator in (b"Tj", b"TJ"):
            shown = operands[0] if operator == b"TJ" and operands else operands
            self._text(items, state, text_matrix, shown)
        elif operator == b"Do" and operands:
            self._xobject(resources, operands[0], state, items, depth)
        elif operator == b"sh" and operands:
            shadings = resources.get("/Shading") if resources is not None else None
            shading = shadings[operands[0]] if shadings is not None and operands[0] in shadings else None
            items.append(("shading", _box([_apply(state.ctm, 0, 0), _apply(state.ctm, 1, 1)]),
                          self.digest(shading)[:16] if shading is not None else "?"))
        elif operator == b"INLINE IMAGE":
            data = operands.get("data", b"") if isinstance(operands, dict) else b""
            items.append(("image", _box([_apply(state.ctm, x, y) for x in (0, 1) for y in (0, 1)]),
                          hashlib.sha256(data if isinstance(data, bytes) else b"").hexdigest()[:16]))
        elif operator in (b"BDC", b"BMC", b"EMC", b"MP", b"DP"):
            # Optional content (a layer turned off) could hide what is drawn: its sections are part of the page.
            items.append(("marked", operator.decode(), *(str(o)[:40] for o in operands)))
        return state, path, clip, text_matrix, line_matrix

    def _text(self, items, state: _State, matrix, shown) -> None:
        from pypdf.generic import NameObject

        raw = b"".join(_raw(s) for s in shown if isinstance(s, str | bytes) and not isinstance(s, NameObject))
        kerning = tuple(round(float(s)) for s in shown if isinstance(s, int | float) and not isinstance(s, bool))
        text = state.font.decode(raw) if state.font is not None else raw.decode("latin-1")
        placed = _multiply(matrix, state.ctm)
        x, y = _apply(placed, 0.0, state.rise)
        size = state.font_size * abs(placed[0] * placed[3] - placed[1] * placed[2]) ** 0.5  # in pt on the page
        colour = state.stroke if state.render_mode in (1, 5) else state.fill
        items.append(("text", text, round(x), round(y), state.font.name if state.font else "?", round(size, 1),
                      state.render_mode, colour, state.alpha, state.spacing,
                      hashlib.sha256(raw + repr(kerning).encode()).hexdigest()[:16]))

    def _xobject(self, resources, name, state: _State, items: list, depth: int) -> None:
        from pypdf.generic import ContentStream

        xobjects = resources.get("/XObject") if resources is not None else None
        if xobjects is None or name not in xobjects:
            items.append(("missing xobject", str(name)))
            return
        xobject = xobjects[name].get_object()
        if xobject.get("/Subtype") == "/Image":
            items.append(("image", _box([_apply(state.ctm, x, y) for x in (0, 1) for y in (0, 1)]),
                          self.digest(xobject)[:16]))
            return
        if depth >= MAX_FORM_DEPTH:
            raise PagesUnreadable(f"form XObjects nest deeper than {MAX_FORM_DEPTH}")
        inner = state.copy()
        if "/Matrix" in xobject:
            inner.ctm = _multiply(_numbers(xobject["/Matrix"], 6), state.ctm)
        bbox = _numbers(xobject.get("/BBox", ()))
        if len(bbox) == 4:
            corners = [_apply(inner.ctm, x, y) for x in (bbox[0], bbox[2]) for y in (bbox[1], bbox[3])]
            items.append(("form", _box(corners)))
        self._run(ContentStream(_bounded(xobject), self.reader), xobject.get("/Resources") or resources, inner,
                  items, depth + 1)


def content_bytes(stream) -> int:
    """The decoded length of a content stream (pypdf's own limits stop a decompression bomb before this does)."""
    return len(stream.get_data())


def _bounded(stream):
    if content_bytes(stream) > MAX_CONTENT_BYTES:
        raise PagesUnreadable(f"a content stream holds more than {MAX_CONTENT_BYTES:,} bytes of drawing")
    return stream


def _raw(string) -> bytes:
    """The bytes a content-stream string holds (pypdf may have decoded them to text already)."""
    if hasattr(string, "original_bytes"):
        return bytes(string.original_bytes)
    return bytes(string) if isinstance(string, bytes) else str(string).encode("latin-1", "replace")


def drawing(data: bytes) -> Drawing:
    """What the PDF in `data` draws. Raises PagesUnreadable."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > MAX_PAGES:
            raise PagesUnreadable(f"{len(reader.pages)} pages, more than a certificate has")
        pages_reader = _Reader(reader)
        pages = [pages_reader.page(page) for page in reader.pages]
        catalog = reader.trailer["/Root"].get_object()
        names = catalog.get("/Names")
        # Document settings that change what a viewer shows (optional content, forms, actions); not the attachment.
        document = [pages_reader.digest(catalog, skip=CATALOG_UNSEEN),
                    pages_reader.digest(names, skip=("/EmbeddedFiles",)) if names is not None else ""]
        info = reader.metadata or {}
        producer, creator = str(info.get("/Producer", "") or ""), str(info.get("/Creator", "") or "")
    except PagesUnreadable:
        raise
    except Exception as exc:  # pypdf raises many kinds on a hostile file; each one means "unreadable"
        raise PagesUnreadable(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    resources = hashlib.sha256("".join(sorted(pages_reader.resources) + document).encode()).hexdigest()
    return Drawing(pages=pages, fonts=pages_reader.fonts, resources=resources, producer=producer, creator=creator)


def _describe(item: tuple) -> str:
    kind = item[0]
    if kind == "text":
        return f"text {item[1][:40]!r} ({item[4]}, {item[5]:g} pt) at x {item[2]}, y {item[3]}"
    if kind == "shape":
        left, bottom, right, top = item[2]
        return f"{item[1]} shape {right - left}×{top - bottom} pt at x {left}, y {bottom}"
    if kind == "clip":
        left, bottom, right, top = item[1]
        return f"clipping {right - left}×{top - bottom} pt at x {left}, y {bottom}"
    if kind in ("image", "form", "shading"):
        left, bottom, right, top = item[1]
        return f"{kind} {right - left}×{top - bottom} pt at x {left}, y {bottom}"
    if kind == "annotation":
        return f"annotation {item[1]} at {item[2]}"
    if kind == "page":
        return f"page box {item[1:5]}"
    return " ".join(str(part) for part in item)


TELLING = ("text", "shape", "image", "annotation", "shading", "form", "page", "marked", "clip")


def _telling(items) -> list[tuple]:
    """Differences in the order a reader learns most from: text, then shapes, …, clipping last."""
    return sorted(items, key=lambda item: TELLING.index(item[0]) if item[0] in TELLING else len(TELLING))


def _is_subsequence(short: list, long: list) -> bool:
    remaining = iter(long)
    return all(any(item == other for other in remaining) for item in short)


MAX_DIFFERENCES = 4


def compare(file: Drawing, fresh: Drawing) -> Comparison:
    """`file`'s pages against `fresh`'s, a rendering of the same signed payload."""
    same_fonts = sorted(file.fonts.values()) == sorted(fresh.fonts.values())
    same_names = (file.producer, file.creator) == (fresh.producer, fresh.creator)
    same_pages = file.pages == fresh.pages
    if same_pages and same_fonts and file.resources == fresh.resources:
        return Comparison(same=True, only_added=False, same_fonts=True, same_names=same_names)
    differences: list[str] = []
    if len(file.pages) != len(fresh.pages):
        differences.append(f"the file has {len(file.pages)} page(s), the issuer's rendering {len(fresh.pages)}")
    only_added = len(file.pages) >= len(fresh.pages) and not same_pages
    for number, (mine, theirs) in enumerate(zip(file.pages, fresh.pages, strict=False), start=1):
        if mine == theirs:
            continue
        only_added = only_added and len(mine) > len(theirs) and _is_subsequence(theirs, mine)
        added, missing = Counter(mine) - Counter(theirs), Counter(theirs) - Counter(mine)
        differences += [f"page {number}: added {_describe(item)}" for item in _telling(added)][:MAX_DIFFERENCES]
        differences += [f"page {number}: missing {_describe(item)}"
                        for item in _telling(missing)][:MAX_DIFFERENCES]
        if not added and not missing:
            differences.append(f"page {number}: the same things are painted in another order")
    if same_pages:
        if not same_fonts:
            differences.append("the embedded fonts differ from this renderer's")
        if file.resources != fresh.resources:
            differences.append("the colour spaces, transparency or document settings differ")
    return Comparison(same=False, only_added=only_added, same_fonts=same_fonts, same_names=same_names,
                      differences=differences[:2 * MAX_DIFFERENCES])
