#!/usr/bin/python3
"""idv_docgen.py: synthetic identity documents for the verification gateway's tests and
benchmarks (issue 9 item 9). No real document is ever used or committed.

    idv_docgen.py OUTDIR [--count N] [--seed S] [--variants clean,blur,...] [--formats TD3,TD1,TD2]
                         [--mix]   (each document clean and in one degraded variant in turn)

Renders TD3 passports, TD1 identity cards and TD2 documents for Kenya, Nigeria, Ghana, South
Africa, Uganda and Rwanda with the OCR-B font of Debian's fonts-ocr-b: a visual zone (issuer,
names, dates, number, address), a portrait slot, and the machine-readable zone with every ICAO
9303 check digit (7-3-1) including the composite. Variants: clean, blur, noise, rotate (up to
10 degrees), perspective, jpeg40, glare, lowres. Each image NAME.jpg has NAME.json beside it:
the truth (every MRZ field, the lines, the applicant's data) and the variant.
Needs python3-pil (Debian) only.
"""
import argparse
import json
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
COUNTRIES = [("KEN", "REPUBLIC OF KENYA"), ("NGA", "FEDERAL REPUBLIC OF NIGERIA"),
             ("GHA", "REPUBLIC OF GHANA"), ("ZAF", "REPUBLIC OF SOUTH AFRICA"),
             ("UGA", "REPUBLIC OF UGANDA"), ("RWA", "REPUBLIC OF RWANDA")]
SURNAMES = ["OTIENO", "ADEYEMI", "MENSAH", "NKOSI", "MUKASA", "UWIMANA", "KAMAU", "OKAFOR",
            "BOATENG", "DLAMINI", "NAMUGGA", "HABIMANA", "WANJIKU", "EZE", "ASANTE", "MOKOENA"]
GIVEN = ["AMINA", "BRIAN", "CHIDI", "DAVID", "ESTHER", "FAITH", "GRACE", "JOSEPH", "KOFI",
         "LERATO", "MOSES", "NALEDI", "PETER", "RUTH", "SAMUEL", "TENDAI"]
STREETS = ["MOI AVENUE", "ALLEN AVENUE", "OXFORD STREET", "JAN SMUTS AVENUE", "KAMPALA ROAD",
           "KN 3 ROAD", "KENYATTA AVENUE", "AWOLOWO ROAD"]
CITIES = ["NAIROBI", "LAGOS", "ACCRA", "JOHANNESBURG", "KAMPALA", "KIGALI", "MOMBASA", "ABUJA"]
VARIANTS = ["clean", "blur", "noise", "rotate", "perspective", "jpeg40", "glare", "lowres"]


def check_digit(s):
    total = 0
    for i, c in enumerate(s):
        if c.isdigit():
            v = int(c)
        elif c.isalpha():
            v = ord(c) - ord("A") + 10
        else:
            v = 0
        total += v * (7, 3, 1)[i % 3]
    return str(total % 10)


def pad(s, n):
    return (s + "<" * n)[:n]


def names_field(surname, given, n):
    return pad(surname.replace(" ", "<") + "<<" + given.replace(" ", "<"), n)


def yymmdd(y, m, d):
    return "%02d%02d%02d" % (y % 100, m, d)


def make_person(rng, issuer):
    surname = rng.choice(SURNAMES)
    given = rng.choice(GIVEN) + (" " + rng.choice(GIVEN) if rng.random() < 0.4 else "")
    by = rng.randint(1950, 2006)
    bm, bd = rng.randint(1, 12), rng.randint(1, 28)
    ey = rng.randint(2027, 2035)
    em, ed = rng.randint(1, 12), rng.randint(1, 28)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    number = rng.choice(letters) + rng.choice(letters) + "".join(rng.choice("0123456789")
                                                                  for _ in range(7))
    return {
        "issuer": issuer, "nationality": issuer, "surname": surname, "given_names": given,
        "sex": rng.choice("MF"), "birth": (by, bm, bd), "expiry": (ey, em, ed),
        "document_number": number,
        "address": "%d %s %s" % (rng.randint(1, 400), rng.choice(STREETS), rng.choice(CITIES)),
    }


def mrz_td3(p):
    l1 = pad("P<" + p["issuer"] + names_field(p["surname"], p["given_names"], 39), 44)
    num = pad(p["document_number"], 9)
    birth, expiry = yymmdd(*p["birth"]), yymmdd(*p["expiry"])
    opt = pad("", 14)
    l2 = (num + check_digit(num) + p["nationality"] + birth + check_digit(birth) + p["sex"] +
          expiry + check_digit(expiry) + opt + check_digit(opt))
    comp = l2[0:10] + l2[13:20] + l2[21:43]
    return [l1, l2 + check_digit(comp)]


def mrz_td1(p):
    num = pad(p["document_number"], 9)
    l1 = pad("ID" + p["issuer"] + num + check_digit(num), 30)
    birth, expiry = yymmdd(*p["birth"]), yymmdd(*p["expiry"])
    l2 = pad(birth + check_digit(birth) + p["sex"] + expiry + check_digit(expiry) +
             p["nationality"], 29)
    comp = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    return [l1, l2 + check_digit(comp), names_field(p["surname"], p["given_names"], 30)]


def mrz_td2(p):
    l1 = pad("I<" + p["issuer"] + names_field(p["surname"], p["given_names"], 31), 36)
    num = pad(p["document_number"], 9)
    birth, expiry = yymmdd(*p["birth"]), yymmdd(*p["expiry"])
    l2 = pad(num + check_digit(num) + p["nationality"] + birth + check_digit(birth) + p["sex"] +
             expiry + check_digit(expiry), 35)
    comp = l2[0:10] + l2[13:20] + l2[21:35]
    return [l1, l2 + check_digit(comp)]


def mrz_names(fmt, lines):
    """The names as the zone holds them (cut to the field's width, as ICAO truncates)."""
    field = lines[2] if fmt == "TD1" else lines[0][5:]
    sur, _, giv = field.partition("<<")
    return sur.replace("<", " ").strip(), giv.strip("<").replace("<", " ").strip()


def iso(d):
    return "%04d-%02d-%02d" % d


def render(p, fmt, country_name):
    lines = {"TD3": mrz_td3, "TD1": mrz_td1, "TD2": mrz_td2}[fmt](p)
    width = {"TD3": 1250, "TD1": 1010, "TD2": 1050}[fmt]
    height = {"TD3": 880, "TD1": 640, "TD2": 740}[fmt]
    img = Image.new("RGB", (width, height), (236, 232, 220))
    d = ImageDraw.Draw(img)
    title = ImageFont.truetype(FONT, 34)
    small = ImageFont.truetype(FONT, 20)
    n = len(lines[0])
    size = 60
    mrz_font = ImageFont.truetype(FONT, size)
    while mrz_font.getlength("<" * n) > width - 60:
        size -= 1
        mrz_font = ImageFont.truetype(FONT, size)
    line_h = int(mrz_font.size * 1.25)
    top = height - 30 - line_h * len(lines)
    # Security-print background: light guilloche-like bands.
    for y in range(0, height, 14):
        d.line([(0, y), (width, y + 40)], fill=(226, 222, 208), width=1)
    d.text((30, 20), country_name, font=title, fill=(20, 40, 90))
    d.text((30, 62), {"TD3": "PASSPORT", "TD1": "NATIONAL IDENTITY CARD",
                      "TD2": "IDENTITY DOCUMENT"}[fmt], font=small, fill=(20, 40, 90))
    # Portrait slot: a frame with a drawn head and shoulders.
    px, py, pw, ph = 30, 110, int(width * 0.24), top - 140
    d.rectangle([px, py, px + pw, py + ph], outline=(90, 90, 90), width=2, fill=(205, 210, 215))
    d.ellipse([px + pw * 0.3, py + ph * 0.12, px + pw * 0.7, py + ph * 0.55], fill=(150, 110, 85))
    d.pieslice([px + pw * 0.1, py + ph * 0.58, px + pw * 0.9, py + ph * 1.3], 180, 360,
               fill=(60, 70, 100))
    d.rectangle([px, py + ph, px + pw, py + ph + 30], fill=(236, 232, 220))
    x = px + pw + 40
    fields = [("Surname", p["surname"]), ("Given names", p["given_names"]),
              ("Nationality", p["nationality"]), ("Date of birth", iso(p["birth"])),
              ("Sex", p["sex"]), ("Document no", p["document_number"]),
              ("Date of expiry", iso(p["expiry"])), ("Address", p["address"])]
    step = (top - 30 - 100) / len(fields)
    label = ImageFont.truetype(FONT, max(10, int(step * 0.3)))
    value = ImageFont.truetype(FONT, max(12, int(step * 0.5)))
    y = 100
    for k, v in fields:
        d.text((x, y), k, font=label, fill=(70, 70, 70))
        d.text((x, y + step * 0.34), v, font=value, fill=(10, 10, 10))
        y += step
    # The machine-readable zone: a light band at the bottom, lines in OCR-B.
    d.rectangle([0, top - 16, width, height], fill=(245, 245, 240))
    for i, l in enumerate(lines):
        d.text((30, top + i * line_h), l, font=mrz_font, fill=(0, 0, 0))
    return img, lines


def degrade(img, variant, rng):
    if variant == "blur":
        return img.filter(ImageFilter.GaussianBlur(1.6))
    if variant == "noise":
        px = img.load()
        w, h = img.size
        for _ in range(w * h // 12):
            x, y = rng.randrange(w), rng.randrange(h)
            g = rng.randint(-60, 60)
            r, gg, b = px[x, y]
            px[x, y] = (max(0, min(255, r + g)), max(0, min(255, gg + g)), max(0, min(255, b + g)))
        return img
    if variant == "rotate":
        return img.rotate(rng.uniform(-10, 10), expand=True, fillcolor=(80, 80, 80),
                          resample=Image.BICUBIC)
    if variant == "perspective":
        w, h = img.size
        dx, dy = w * 0.04, h * 0.04
        coeffs = find_coeffs([(0, 0), (w, 0), (w, h), (0, h)],
                             [(rng.uniform(0, dx), rng.uniform(0, dy)),
                              (w - rng.uniform(0, dx), rng.uniform(0, dy)),
                              (w - rng.uniform(0, dx), h - rng.uniform(0, dy)),
                              (rng.uniform(0, dx), h - rng.uniform(0, dy))])
        return img.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BICUBIC,
                             fillcolor=(80, 80, 80))
    if variant == "glare":
        w, h = img.size
        over = Image.new("L", img.size, 0)
        od = ImageDraw.Draw(over)
        cx, cy = rng.uniform(w * 0.5, w * 0.9), rng.uniform(h * 0.1, h * 0.4)
        for r in range(int(h * 0.35), 0, -6):
            od.ellipse([cx - r * 1.6, cy - r, cx + r * 1.6, cy + r],
                       fill=int(200 * (1 - r / (h * 0.35))))
        white = Image.new("RGB", img.size, (255, 255, 255))
        return Image.composite(white, img, over)
    if variant == "lowres":
        w, h = img.size
        return img.resize((int(w * 0.6), int(h * 0.6)), Image.BILINEAR)
    return img


def solve(a, b):
    """Gauss-Jordan elimination with partial pivoting (8 x 8: no numpy needed)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] for i in range(n)]


def find_coeffs(src, dst):
    """The 8 coefficients PIL's PERSPECTIVE transform takes, mapping dst corners to src."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a.append([u, v, 1, 0, 0, 0, -x * u, -x * v])
        a.append([0, 0, 0, u, v, 1, -y * u, -y * v])
        b += [x, y]
    return solve(a, b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--variants", default="clean")
    ap.add_argument("--formats", default="TD3,TD1,TD2")
    ap.add_argument("--mix", action="store_true",
                    help="each document clean and in one degraded variant, taken in turn")
    args = ap.parse_args()
    if not os.path.exists(FONT):
        sys.exit("idv_docgen.py: %s missing: apt-get install fonts-ocr-b" % FONT)
    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(args.seed)
    formats = args.formats.split(",")
    variants = args.variants.split(",")
    for i in range(args.count):
        code, name = COUNTRIES[i % len(COUNTRIES)]
        fmt = formats[i % len(formats)]
        p = make_person(rng, code)
        img, lines = render(p, fmt, name)
        todo = ["clean", VARIANTS[1 + i % (len(VARIANTS) - 1)]] if args.mix else variants
        for v in todo:
            if v not in VARIANTS:
                sys.exit("idv_docgen.py: unknown variant %s (%s)" % (v, ", ".join(VARIANTS)))
            out = degrade(img.copy(), v, rng)
            base = os.path.join(args.outdir, "%s_%s_%03d_%s" % (code.lower(), fmt.lower(), i, v))
            out.save(base + ".jpg", "JPEG", quality=40 if v == "jpeg40" else 90)
            sur, giv = mrz_names(fmt, lines)
            truth = {
                "format": fmt, "variant": v, "mrz": lines,
                "fields": {
                    "document_code": lines[0][:2].replace("<", ""), "issuer": p["issuer"],
                    "document_number": p["document_number"], "nationality": p["nationality"],
                    "birth_date": iso(p["birth"]), "sex": p["sex"],
                    "expiry_date": iso(p["expiry"]), "surname": sur, "given_names": giv,
                },
                "applicant": {
                    "name": p["given_names"] + " " + p["surname"],
                    "date_of_birth": iso(p["birth"]), "address": p["address"],
                    "document_number": p["document_number"],
                },
            }
            with open(base + ".json", "w") as f:
                json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
