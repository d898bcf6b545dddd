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

/* Encodes img as a baseline JPEG at quality (1..100, libjpeg's scaled standard tables, 4:2:0)
 * into *out (malloc'd; free()). NOVA_INVALID for an empty image or a bad quality. */
nova_status nova_vision_encode_jpeg(const nova_vision_image_t *img, int quality, uint8_t **out,
                                    size_t *len);

/* The EXIF orientation (1..8) found in a JPEG's APP1 segment, or 1 when there is none. */
int nova_vision_jpeg_orientation(const uint8_t *data, size_t len);
/* 1 when the JPEG's EXIF names the camera that took it (Make or Model in IFD0), else 0. A
 * phone camera writes them; screenshots, canvas captures and most edited files do not. */
int nova_vision_jpeg_camera(const uint8_t *data, size_t len);

/* Error-level analysis (src/vision/ela.c): img re-encoded at quality (1..100) and decoded;
 * per 8x8 block the mean luma error over the block's texture. median is that ratio's median
 * over the textured blocks; the largest 8-connected region of blocks at 2.5x the median or more
 * (an edit saved once over a photo saved before) has region_blocks blocks standing
 * region_ratio times the median, inside the pixel box region_x/y/w/h. All zero when fewer
 * than 16 blocks have texture. NOVA_INVALID for an image under 32x32 or a bad quality. */
typedef struct nova_vision_ela {
    double median;
    double region_ratio, region_error;
    int region_blocks, outlier_blocks, textured_blocks;
    int region_x, region_y, region_w, region_h;
} nova_vision_ela_t;
nova_status nova_vision_ela(const nova_vision_image_t *img, int quality, nova_vision_ela_t *out);
/* true when the region is large, stands far above the image's median and is clearly visible:
 * a sign of editing (the thresholds and how they were set: src/vision/ela.c). An edit saved
 * at the quality the photo already had leaves no such sign: error-level analysis cannot see
 * it. */
bool nova_vision_ela_suspicious(const nova_vision_ela_t *e);

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

/* ---- Passive liveness signals: one image, no cooperation asked of the applicant ----
 * Each signal can route a verification to review, never approve it alone. */

#define NOVA_VISION_PV_BLURRED 0x01   /* "blurred": chip sharpness under min_sharpness */
#define NOVA_VISION_PV_MOIRE 0x02     /* "screen_moire": a periodic peak in the face's spectrum */
#define NOVA_VISION_PV_COLOUR 0x04    /* "low_colour": colourfulness under min_colourfulness */
#define NOVA_VISION_PV_TEXTURE 0x08   /* "flat_texture": high-frequency energy under min_texture */
#define NOVA_VISION_PV_NO_CAMERA 0x10 /* "no_camera_exif": no camera in EXIF (when required) */
#define NOVA_VISION_PV_COUNT 5

typedef struct nova_vision_passive_opts {
    double min_sharpness;     /* [12], as the face match check */
    double max_moire;         /* largest peak / radial mean of the spectrum [15] */
    double min_colourfulness; /* Hasler and Suesstrunk's M of the face crop [10] */
    double min_texture;       /* share of spectral energy above 1/4 of Nyquist [0.002] */
    int require_camera;       /* count a missing camera EXIF as a reason [0] */
} nova_vision_passive_opts_t;

typedef struct nova_vision_passive {
    unsigned reasons;
    double sharpness, moire, colourfulness, texture;
    int camera; /* nova_vision_jpeg_camera of the bytes, -1 when no bytes were given */
} nova_vision_passive_t;

/* Measures the passive signals of face f (described, from nova_vision_detect) in img; jpeg
 * (may be NULL) are the bytes img was decoded from, for the EXIF signal. opts may be NULL. */
nova_status nova_vision_passive(const nova_vision_image_t *img, const uint8_t *jpeg, size_t len,
                                const nova_vision_face_t *f, const nova_vision_passive_opts_t *opts,
                                nova_vision_passive_t *out);
/* The name of one passive reason bit, NULL for anything else. */
const char *nova_vision_passive_reason_name(unsigned bit);

/* ---- Active liveness: a burst of frames performing a random sequence of actions ---- */

typedef enum nova_vision_action {
    NOVA_VISION_TURN_LEFT = 0, /* "turn_left": the applicant's own left (nose to the image's
                                * right in an unmirrored camera image) */
    NOVA_VISION_TURN_RIGHT,    /* "turn_right" */
    NOVA_VISION_BLINK,         /* "blink": eyes closed in a frame, open in the first */
    NOVA_VISION_SMILE,         /* "smile": mouth wider than in the first frame */
    NOVA_VISION_NOD,           /* "nod": head pitched up or down */
    NOVA_VISION_ACTION_COUNT,
} nova_vision_action;

#define NOVA_VISION_LIVENESS_MAX_ACTIONS 3
/* The control-plane key of a challenge (tenant id, nonce): its value is the actions asked,
 * comma-separated. POST /v1/liveness/challenges writes it; /v1/liveness/verify and the
 * gateway's active liveness step (at POST /v1/verifications) take it, once. */
#define NOVA_LIVENESS_KEY_FMT "liveness:%s:%s"
#define NOVA_VISION_LIVENESS_MAX_FRAMES 30

/* Active reasons (any one fails the check). */
#define NOVA_VISION_LV_NO_FACE 0x01        /* "no_face": a frame without a face */
#define NOVA_VISION_LV_SEVERAL_FACES 0x02  /* "several_faces": a frame with a second face */
#define NOVA_VISION_LV_OTHER_PERSON 0x04   /* "other_person": a frame far from the reference */
#define NOVA_VISION_LV_ACTION_MISSING 0x08 /* "action_missing": an action never performed */
#define NOVA_VISION_LV_ACTION_ORDER 0x10   /* "action_order": actions out of the asked order */
#define NOVA_VISION_LV_REPEATED 0x20       /* "repeated_frame": two frames with the same pixels */
#define NOVA_VISION_LV_AFFINE 0x40         /* "affine_replay": every frame a planar warp of one */
#define NOVA_VISION_LV_TIMING 0x80         /* "timing": times not increasing or too long */
#define NOVA_VISION_LV_NOT_NEUTRAL 0x100   /* "not_neutral": the first frame is not frontal */
#define NOVA_VISION_LV_COUNT 9

typedef enum nova_vision_liveness_decision {
    NOVA_VISION_LIVE_FAIL = 0,
    NOVA_VISION_LIVE_REVIEW,
    NOVA_VISION_LIVE_PASS,
} nova_vision_liveness_decision;

/* One frame of the burst: the decoded image, the JPEG bytes (may be NULL) and the client's
 * capture time in milliseconds (any origin). */
typedef struct nova_vision_frame {
    const nova_vision_image_t *img;
    const uint8_t *jpeg;
    size_t len;
    int64_t t_ms;
} nova_vision_frame_t;

/* Thresholds; a zero member takes the default in brackets. Poses are measured from the 68
 * landmarks in the face's own axes (eye line horizontal), relative to the first frame. */
typedef struct nova_vision_liveness_opts {
    double same_max;     /* every frame's descriptor distance to the reference [0.55] */
    double yaw_min;      /* a turn: yaw change (nose offset / half face width) [0.12] */
    double pitch_min;    /* a nod: change of the nose's height between eyes and chin [0.06] */
    double blink_ratio;  /* a blink: eye aspect ratio or eye contrast under this share of the
                          * first frame's [0.75] */
    double smile_ratio;  /* a smile: mouth width over this multiple of the first's [1.06] */
    double affine_max;   /* a frame is a planar warp of the first when, once aligned to it by
                          * an affine map of the pixels (and a gain and offset), no cell of the
                          * face has an RMS grey-level error above this [6] */
    double neutral_max;  /* |yaw| of the first frame [0.45] */
    int64_t span_max_ms; /* first to last frame [20000] */
    nova_vision_passive_opts_t passive;
} nova_vision_liveness_opts_t;

/* What one frame showed. */
typedef struct nova_vision_frame_pose {
    int faces;
    double yaw, pitch, ear, mouth; /* mouth: width in eye distances */
    double eye_open;               /* luma contrast inside the eyes */
    double distance;               /* descriptor distance to the reference, -1 without a face */
    double residual;               /* grey-level error left by the best planar warp of frame
                                    * 0 (worst cell), 0 for frame 0 */
} nova_vision_frame_pose_t;

typedef struct nova_vision_liveness {
    nova_vision_liveness_decision decision;
    double score;     /* 0 on fail; else 1, less 0.2 per passive reason */
    unsigned reasons; /* active reasons */
    size_t frames;
    size_t nactions;
    nova_vision_action actions[NOVA_VISION_LIVENESS_MAX_ACTIONS];
    int action_frame[NOVA_VISION_LIVENESS_MAX_ACTIONS]; /* frame performing it, -1: none */
    double distance_max;                                /* worst frame to reference */
    double residual_max;                                /* the largest frame residual */
    nova_vision_passive_t passive;                      /* of the first frame's face */
    nova_vision_frame_pose_t pose[NOVA_VISION_LIVENESS_MAX_FRAMES];
} nova_vision_liveness_t;

/* Checks a burst of n (2..NOVA_VISION_LIVENESS_MAX_FRAMES) frames against the asked actions
 * (1..NOVA_VISION_LIVENESS_MAX_ACTIONS) in order: the first frame is the neutral pose, each
 * action must show in a later frame than the one before it, in a frame that no planar warp
 * of the first explains; every frame must show one face,
 * the same person as reference (a descriptor, e.g. the selfie's; NULL: frame 0's), no two
 * frames the same pixels, and not every frame an affine warp of the first (a photo slid,
 * turned or scaled in front of the camera). Any of those fails; otherwise a passive reason
 * on the first frame is review, else pass. NOVA_INVALID for counts out of range. The
 * single-use nonce and its TTL are the caller's (the API keeps them in the control plane). */
nova_status nova_vision_liveness(const nova_vision_model_t *m, const nova_vision_frame_t *frames,
                                 size_t n, const nova_vision_action *actions, size_t nactions,
                                 const float *reference, const nova_vision_liveness_opts_t *opts,
                                 nova_vision_liveness_t *out);

/* "turn_left", ... ; NULL out of range. */
const char *nova_vision_action_name(nova_vision_action a);
/* The action named s, or -1. */
int nova_vision_action_parse(const char *s);
/* "pass", "review", "fail". */
const char *nova_vision_liveness_decision_name(nova_vision_liveness_decision d);
/* The name of one active reason bit, NULL for anything else. */
const char *nova_vision_liveness_reason_name(unsigned bit);

/* ---- Duplicate-face search: an index of descriptors (src/vision/index.c) ----
 * Items are numbered by insertion, from 0. An index is not thread-safe while it is changed;
 * searches of an unchanging index may run in any number of threads. */

typedef struct nova_vision_index nova_vision_index_t;

typedef struct nova_vision_hit {
    size_t item;
    float distance; /* Euclidean, as nova_vision_distance */
} nova_vision_hit_t;

/* An empty index with room for capacity descriptors (it grows). Free with
 * nova_vision_index_free (NULL-safe). */
nova_status nova_vision_index_new(size_t capacity, nova_vision_index_t **out);
void nova_vision_index_free(nova_vision_index_t *ix);
/* Appends a descriptor (copied); NOVA_INVALID when a value is not finite. */
nova_status nova_vision_index_add(nova_vision_index_t *ix, const float d[NOVA_VISION_DESCRIPTOR]);
size_t nova_vision_index_size(const nova_vision_index_t *ix);
/* Room for capacity descriptors, so the adds up to it do not reallocate (while a lock is held). */
nova_status nova_vision_index_reserve(nova_vision_index_t *ix, size_t capacity);
/* Exact search: the (at most k) items within max_distance of q, nearest first, into hits
 * (room for k), their count in *n. */
nova_status nova_vision_index_search(const nova_vision_index_t *ix,
                                     const float q[NOVA_VISION_DESCRIPTOR], double max_distance,
                                     size_t k, nova_vision_hit_t *hits, size_t *n);
/* Builds the approximate index: k-means into nlist cells (1..size) with the given Lloyd
 * iterations (0: 10) from seed. Items added later are searched exactly until the next build. */
nova_status nova_vision_index_build_ivf(nova_vision_index_t *ix, size_t nlist, unsigned iterations,
                                        uint64_t seed);
/* Approximate search: as nova_vision_index_search over the nprobe cells nearest q (exact
 * search when no IVF was built). */
nova_status nova_vision_index_search_ivf(const nova_vision_index_t *ix,
                                         const float q[NOVA_VISION_DESCRIPTOR], size_t nprobe,
                                         double max_distance, size_t k, nova_vision_hit_t *hits,
                                         size_t *n);

/* Removes item (numbered as at insertion; NOVA_NOT_FOUND past the last, or removed already):
 * its descriptor is zeroed and no search returns it again. Items keep their numbers. */
nova_status nova_vision_index_remove(nova_vision_index_t *ix, size_t item);
/* Items added and not removed. */
size_t nova_vision_index_live(const nova_vision_index_t *ix);
/* Cells of the IVF (0 when none was built) and the items added since its build. */
size_t nova_vision_index_cells(const nova_vision_index_t *ix);
size_t nova_vision_index_unbuilt(const nova_vision_index_t *ix);
/* A copy of ix (descriptors, removals, IVF and numbering) the caller frees. */
nova_status nova_vision_index_copy(const nova_vision_index_t *ix, nova_vision_index_t **out);
/* Brings dst, a copy of src taken when src held dst's size, up to src: appends src's later
 * items (removed ones stay removed). Removals of earlier items are the caller's to repeat. */
nova_status nova_vision_index_catch_up(nova_vision_index_t *dst, const nova_vision_index_t *src);

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
/* {"sharpness", "moire", "colourfulness", "texture", "camera_exif" (bool or null),
 *  "reasons": [names]}. New reference; NULL on allocation failure. */
json_t *nova_vision_passive_json(const nova_vision_passive_t *p);
/* {"decision", "score", "reasons": [names], "actions": [{"action", "frame"}],
 *  "distance_max", "residual_max", "passive": {...}, "frames": [{"faces", "yaw", "pitch",
 *  "eye_ratio", "mouth", "distance"}]}. New reference; NULL on allocation failure. */
json_t *nova_vision_liveness_json(const nova_vision_liveness_t *r);

#endif
