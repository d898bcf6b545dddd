#!/usr/bin/env python3
"""idv_forge.py: the edit a forger makes to a document photo, for tests and benchmarks of the
authenticity check's error-level analysis (src/vision/ela.c).

    idv_forge.py IN.jpg OUT.jpg [--quality Q] [--text TEXT]

Paints a box of the background colour over part of the visual zone (where the generated
documents of tools/idv_docgen.py print the name), writes new text in it, and saves the whole
at quality Q (95: what image editors default to)."""
import argparse

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"  # Debian fonts-dejavu-core


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--quality", type=int, default=95)
    ap.add_argument("--text", default="MWANGI JOHN")
    args = ap.parse_args()
    im = Image.open(args.src).convert("RGB")
    w, h = im.size
    d = ImageDraw.Draw(im)
    x, y = int(w * 0.42), int(h * 0.30)
    d.rectangle([x, y, x + 260, y + 36], fill=im.getpixel((x - 5, y - 5)))
    d.text((x + 4, y + 2), args.text, fill=(20, 20, 20), font=ImageFont.truetype(FONT, 28))
    im.save(args.dst, "JPEG", quality=args.quality)


if __name__ == "__main__":
    main()
