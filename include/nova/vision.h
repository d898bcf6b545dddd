/* Vision engine: JPEG decode, face detection, 68 landmarks and 128-D descriptors, faithful to
 * @vladmandic/face-api (tiny face detector, FaceLandmark68Net, FaceRecognitionNet) on tfjs.
 * Pure computation: bytes and structs in, structs out; no I/O but mapping the model file, no
 * threads. A model is immutable once opened and may be shared by any number of threads; every
 * other call allocates its own scratch memory. */
#ifndef NOVA_VISION_H
#define NOVA_VISION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nova/base.h"

#define NOVA_VISION_LANDMARKS 68
#define NOVA_VISION_DESCRIPTOR 128
/* Largest image accepted by the decoder, in pixels (after EXIF rotation): 40 megapixels. */
#define NOVA_VISION_MAX_PIXELS (40u * 1000u * 1000u)
/* Longest side accepted, in pixels. */
#define NOVA_VISION_MAX_SIDE 16384

/* An 8-bit RGB image, rows top to bottom, 3 bytes per pixel, no padding. Owned by whoever
 * filled it; nova_vision_image_free releases rgb (NULL-safe, leaves a zeroed struct). */
typedef struct nova_vision_image {
    int width, height;
    uint8_t *rgb;
} nova_vision_image_t;

typedef struct nova_vision_model nova_vision_model_t;

typedef struct nova_vision_box {
    double x, y, w, h; /* image pixels, top-left origin */
} nova_vision_box_t;

typedef struct nova_vision_point {
    double x, y;
} nova_vision_point_t;

typedef struct nova_vision_face {
    nova_vision_box_t box; /* detector box */
    double score;          /* detector confidence, (threshold, 1) */
    nova_vision_point_t landmarks[NOVA_VISION_LANDMARKS];
    nova_vision_box_t aligned; /* the crop the descriptor is computed on (integer pixels) */
    float descriptor[NOVA_VISION_DESCRIPTOR];
    int has_descriptor;
} nova_vision_face_t;

typedef enum nova_vision_detector {
    NOVA_VISION_TINY = 0, /* tiny face detector: fast, weak on close-ups at large inputs */
    NOVA_VISION_SSD,      /* SSD MobileNet v1 at 512: about 3x the cost, finds more */
} nova_vision_detector;

typedef struct nova_vision_detect_opts {
    int input_size;         /* tiny detector input side, a multiple of 32; 0: 416 */
    double score_threshold; /* keep boxes scoring above it; 0: 0.5 */
    int describe;           /* also compute each face's descriptor */
    nova_vision_detector detector;
} nova_vision_detect_opts_t;

/* Maps the model file written by tools/face_convert.js (scripts/models.sh puts it at
 * tools/models/nova-face.bin) and prepares the three nets. NOVA_NOT_FOUND when the file is
 * absent, NOVA_INVALID when it is not a model of this version. Free with
 * nova_vision_model_free (NULL-safe). */
nova_status nova_vision_model_open(const char *path, nova_vision_model_t **out);
void nova_vision_model_free(nova_vision_model_t *m);

/* Decodes a baseline or progressive JPEG (8-bit, grey, YCbCr or CMYK-free RGB output) into
 * *out and applies its EXIF orientation (tag 0x0112), so the pixels are as a viewer shows
 * them. NOVA_INVALID for anything that is not a decodable JPEG, NOVA_TOO_LARGE beyond
 * NOVA_VISION_MAX_PIXELS or NOVA_VISION_MAX_SIDE. The caller frees out with
 * nova_vision_image_free. */
nova_status nova_vision_decode_jpeg(const uint8_t *data, size_t len, nova_vision_image_t *out);
void nova_vision_image_free(nova_vision_image_t *img);

/* The EXIF orientation (1..8) found in a JPEG's APP1 segment, or 1 when there is none. */
int nova_vision_jpeg_orientation(const uint8_t *data, size_t len);

/* Detects faces in img, then their landmarks and, with opts->describe, their descriptors.
 * *faces (malloc'd, free() it; NULL when *n is 0) is ordered by score, best first, as the
 * reference's non-maximum suppression returns them. opts may be NULL (defaults). */
nova_status nova_vision_detect(const nova_vision_model_t *m, const nova_vision_image_t *img,
                               const nova_vision_detect_opts_t *opts, nova_vision_face_t **faces,
                               size_t *n);

/* Euclidean distance between two descriptors (the reference's euclideanDistance). */
double nova_vision_distance(const float *a, const float *b);

/* ---- Face match check: a document portrait against a selfie ---- */

/* Reason codes, a bit set; nova_vision_reason_name gives each one's stable name. */
#define NOVA_VISION_NO_FACE 0x01        /* "no_face" */
#define NOVA_VISION_SEVERAL_FACES 0x02  /* "several_faces": a second face over 1/4 the area */
#define NOVA_VISION_FACE_TOO_SMALL 0x04 /* "face_too_small": box side under min_face px */
#define NOVA_VISION_EYES_CLOSED 0x08    /* "eyes_closed": eye aspect ratio under min_ear */
#define NOVA_VISION_BLURRED 0x10        /* "blurred": chip sharpness under min_sharpness */
#define NOVA_VISION_TOO_DARK 0x20       /* "too_dark": chip brightness under min_brightness */
#define NOVA_VISION_REASON_COUNT 6

typedef enum nova_vision_decision {
    NOVA_VISION_NO_MATCH = 0,
    NOVA_VISION_REVIEW,
    NOVA_VISION_MATCH,
} nova_vision_decision;

/* Thresholds; a zero member takes the default in brackets. Distances are Euclidean between
 * descriptors (same person typically < 0.4, different people > 0.6). */
typedef struct nova_vision_match_opts {
    double match_max;      /* distance <= this is a match [0.45] */
    double review_max;     /* distance <= this (and > match_max) is review [0.55] */
    int min_face;          /* smallest detector box side, pixels [64] */
    double min_ear;        /* mean eye aspect ratio of both eyes [0.15] */
    double min_sharpness;  /* variance of the Laplacian of the 150 x 150 grey chip [12] */
    double min_brightness; /* mean luma (0..255) of the chip [40] */
    int detect_size;       /* tiny input tried first; then 160, 320, 416, then SSD [224] */
} nova_vision_match_opts_t;

/* What was found in one image. face is the face compared (valid when faces > 0): in the
 * document the largest, in the selfie the one closest to the document's. */
typedef struct nova_vision_face_check {
    size_t faces;
    unsigned reasons;
    nova_vision_face_t face;
    double ear, sharpness, brightness;
} nova_vision_face_check_t;

typedef struct nova_vision_match {
    nova_vision_decision decision;
    double distance;   /* -1 when no comparison was possible (no face in one image) */
    double similarity; /* max(0, 1 - distance): monotone in distance, not a probability */
    unsigned reasons;  /* document.reasons | selfie.reasons */
    nova_vision_face_check_t document, selfie;
} nova_vision_match_t;

/* Detects, aligns and describes the faces of each image (the document's largest, the selfie's
 * closest to it), measures their quality and decides: no face in either image is no_match;
 * otherwise distance <= match_max is match,
 * <= review_max review, else no_match, and any quality reason turns a match into review (a
 * reason never improves a decision). opts may be NULL. */
nova_status nova_vision_match(const nova_vision_model_t *m, const nova_vision_image_t *document,
                              const nova_vision_image_t *selfie,
                              const nova_vision_match_opts_t *opts, nova_vision_match_t *out);

/* Quality measures of one described face in img (the same ones nova_vision_match uses). */
nova_status nova_vision_face_quality(const nova_vision_image_t *img, const nova_vision_face_t *f,
                                     double *ear, double *sharpness, double *brightness);

/* "match", "review", "no_match". */
const char *nova_vision_decision_name(nova_vision_decision d);
/* The name of one reason bit ("no_face", ...), NULL for anything else. */
const char *nova_vision_reason_name(unsigned bit);

/* ---- JSON, one shape for novactl and the API ---- */

#define NOVA_VISION_JSON_LANDMARKS 0x1
#define NOVA_VISION_JSON_DESCRIPTOR 0x2

/* {"box": {"x","y","w","h"}, "score", ["landmarks": [[x, y] x 68]], ["descriptor": [128]]}.
 * New reference (the caller owns it); NULL on allocation failure. */
json_t *nova_vision_face_json(const nova_vision_face_t *f, unsigned what);
/* {"decision", "distance" (null without a comparison), "similarity", "reasons": [names],
 *  "document": {"faces", "reasons", "box", "score", "eye_ratio", "sharpness", "brightness"},
 *  "selfie": {...}}. New reference; NULL on allocation failure. */
json_t *nova_vision_match_json(const nova_vision_match_t *r);

#endif
