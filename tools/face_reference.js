#!/usr/bin/env node
// Reference outputs for the vision engine's fidelity test (tests/unit/vision_test.c).
// Runs images through @vladmandic/face-api on @tensorflow/tfjs's CPU backend, offline, with the
// same pipeline novactl uses: tiny face detector (inputSize 416, score > 0.5) or, with
// --ssd, SSD MobileNet v1 (512, confidence > 0.5, at most 100), 68-point landmarks, dlib-style
// aligned box, 128-D descriptor. Pixels come from Debian's djpeg
// (libjpeg-turbo, default islow IDCT and fancy upsampling), which is the decoder the C engine
// links, so both sides see the same RGB bytes and the comparison measures the nets alone.
//   node tools/face_reference.js [--ssd] OUT.json IMG.jpg...
// The committed fixtures: tests/fixtures/vision/reference.json (tiny) and reference_ssd.json,
// from tools/models/node_modules/@vladmandic/face-api/demo/sample{1..6}.jpg.
// Needs scripts/models.sh to have run (tools/models/node_modules).
'use strict';
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');
const { createRequire } = require('module');
const req = createRequire(path.join(__dirname, 'models', 'package.json'));
const tf = req('@tensorflow/tfjs');
const faceapi = req('@vladmandic/face-api/dist/face-api.node-wasm.js');

const MODEL_DIR = path.join(path.dirname(req.resolve('@vladmandic/face-api/package.json')), 'model');

// decode FILE: RGB bytes of a JPEG as djpeg writes them (binary PPM, P6, maxval 255).
function decode(file) {
    const ppm = execFileSync('djpeg', ['-ppm', file], { maxBuffer: 1 << 28 });
    let pos = 0;
    const fields = [];
    while (fields.length < 4) {
        while (/\s/.test(String.fromCharCode(ppm[pos]))) pos++;
        if (ppm[pos] === 0x23) { while (ppm[pos] !== 0x0a) pos++; continue; }
        let start = pos;
        while (!/\s/.test(String.fromCharCode(ppm[pos]))) pos++;
        fields.push(ppm.subarray(start, pos).toString('ascii'));
    }
    pos++;
    if (fields[0] !== 'P6' || fields[3] !== '255') throw new Error(`${file}: not an 8-bit P6`);
    const width = Number(fields[1]), height = Number(fields[2]);
    return { width, height, rgb: ppm.subarray(pos, pos + width * height * 3) };
}

const round = (v, d = 6) => Number(v.toFixed(d));

async function main() {
    const args = process.argv.slice(2);
    const ssd = args[0] === '--ssd';
    const [out, ...images] = ssd ? args.slice(1) : args;
    if (!out || images.length === 0) {
        console.error('usage: face_reference.js OUT.json IMG.jpg...');
        process.exit(2);
    }
    await faceapi.tf.setBackend('cpu');
    await faceapi.tf.ready();
    await faceapi.nets.tinyFaceDetector.loadFromDisk(MODEL_DIR);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR);
    await faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR);
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR);
    const options = ssd
        ? new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 100 })
        : new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 });
    const result = {
        generator: 'tools/face_reference.js',
        face_api: faceapi.version,
        tfjs: faceapi.tf.version_core,
        backend: faceapi.tf.getBackend(),
        detector: ssd ? 'ssd_mobilenetv1' : 'tiny_face_detector',
        input_size: ssd ? 512 : 416,
        score_threshold: 0.5,
        images: [],
    };
    for (const file of images) {
        const img = decode(file);
        const t = faceapi.tf.tensor3d(new Int32Array(img.rgb), [img.height, img.width, 3], 'int32');
        const faces = await faceapi.detectAllFaces(t, options).withFaceLandmarks().withFaceDescriptors();
        t.dispose();
        faces.sort((a, b) => a.detection.box.x - b.detection.box.x);
        result.images.push({
            file: path.basename(file),
            width: img.width,
            height: img.height,
            faces: faces.map((f) => ({
                score: round(f.detection.score, 7),
                box: {
                    x: round(f.detection.box.x), y: round(f.detection.box.y),
                    w: round(f.detection.box.width), h: round(f.detection.box.height),
                },
                landmarks: f.landmarks.positions.map((p) => [round(p.x, 4), round(p.y, 4)]),
                descriptor: Array.from(f.descriptor, (v) => round(v, 8)),
            })),
        });
        console.error(`${path.basename(file)}: ${img.width}x${img.height}, ${faces.length} faces`);
    }
    fs.writeFileSync(out, JSON.stringify(result) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
