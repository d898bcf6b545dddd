/* vision_synth.h: test inputs for liveness, made from the sample photos of the face-api npm
 * package. A live burst needs a head that moves, eyes that close and a mouth that widens; a
 * photo can only be slid, turned and scaled (an affine map of its pixels). The live poses are
 * made by non-planar warps of one face: the face mapped onto a cylinder turned about its
 * vertical axis (a turn), the nose moved down across the face (a nod), the eyelids closed
 * over the eyes (a blink), the mouth stretched (a smile); every frame gets its own sensor
 * noise. The attacks are the
 * ones the issue names: a still repeated, a photo slid across the frame, another person, and
 * for the passive signals a screen's grid and a print's faded colours. Test support only. */
#ifndef NOVA_VISION_SYNTH_H
#define NOVA_VISION_SYNTH_H

#include "nova/vision.h"

/* The face of sample<sample>.jpg whose detector box is index-th largest (0: largest),
 * cropped to a square of 2.2 box sides around it at native resolution; *face gets its
 * landmarks in the crop. */
nova_status synth_face(const nova_vision_model_t *m, int sample, int index,
                       nova_vision_image_t *out, nova_vision_face_t *face);

typedef enum synth_pose {
    SYNTH_NEUTRAL = 0,
    SYNTH_TURN_LEFT, /* the applicant's own left: the nose moves to the image's right */
    SYNTH_TURN_RIGHT,
    SYNTH_BLINK,
    SYNTH_SMILE,
    SYNTH_NOD,
} synth_pose;

/* src warped into pose (f: src's face), plus sensor noise seeded by seed (amplitude 3 grey
 * levels). out is allocated. */
nova_status synth_pose_frame(const nova_vision_image_t *src, const nova_vision_face_t *f,
                             synth_pose pose, unsigned seed, nova_vision_image_t *out);
/* The pose performing action a. */
synth_pose synth_action_pose(nova_vision_action a);

/* src under the affine map taking output (x, y) to source (a x + b y + c, d x + e y + f),
 * plus sensor noise: a photo held in front of the camera and moved. */
nova_status synth_affine(const nova_vision_image_t *src, const double map[6], unsigned seed,
                         nova_vision_image_t *out);
/* A screen's pixel grid beating with the camera's: a sinusoidal grating of period px and
 * amplitude amp grey levels, at a slight angle. In place. */
void synth_moire(nova_vision_image_t *img, double period, double amp);
/* A print's faded colours: saturation kept to keep (0..1). In place. */
void synth_fade(nova_vision_image_t *img, double keep);
/* A copy of src. */
nova_status synth_copy(const nova_vision_image_t *src, nova_vision_image_t *out);

/* JPEG of img at quality q into a malloc'd buffer. */
nova_status synth_jpeg(const nova_vision_image_t *img, int q, unsigned char **buf,
                       unsigned long *len);

#endif
