#!/usr/bin/env python3
"""idv_poa.py: a synthetic proof-of-address document (a utility bill) for tests of the
verification gateway's address check.

    idv_poa.py OUT.jpg --name "ANNA MWANGI" --address "12 Moi Avenue Nairobi" [--quality Q]

Renders a white page with a utility's letterhead, the statement date, the account holder's
name, the service address and a few amounts, in Debian's DejaVu Sans (fonts-dejavu-core),
and saves it as a JPEG."""
import argparse

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--name", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    im = Image.new("RGB", (1240, 880), (255, 255, 255))
    d = ImageDraw.Draw(im)
    big, body, bold = (ImageFont.truetype(BOLD, 44), ImageFont.truetype(FONT, 30),
                       ImageFont.truetype(BOLD, 30))
    d.rectangle([0, 0, 1240, 110], fill=(20, 70, 140))
    d.text((50, 30), "EAST AFRICA POWER AND WATER", font=big, fill=(255, 255, 255))
    d.text((50, 150), "Statement of account", font=bold, fill=(0, 0, 0))
    d.text((50, 200), "Statement date: 2026-11-03", font=body, fill=(0, 0, 0))
    d.text((50, 280), "Account holder:", font=bold, fill=(0, 0, 0))
    d.text((330, 280), args.name, font=body, fill=(0, 0, 0))
    d.text((50, 340), "Service address:", font=bold, fill=(0, 0, 0))
    d.text((330, 340), args.address, font=body, fill=(0, 0, 0))
    y = 460
    for label, amount in (("Previous balance", "1,250.00"), ("Payment received", "-1,250.00"),
                          ("Electricity, 212 kWh", "3,180.40"), ("Water, 9 m3", "845.00"),
                          ("Amount due", "4,025.40")):
        d.text((50, y), label, font=body, fill=(0, 0, 0))
        d.text((900, y), amount, font=body, fill=(0, 0, 0))
        y += 60
    im.save(args.out, "JPEG", quality=args.quality)


if __name__ == "__main__":
    main()
