#!/usr/bin/env node
// Times the reference pipeline (@vladmandic/face-api on @tensorflow/tfjs's CPU backend) on the
// pictures bench/vision_bench.c wrote, the same steps the C bench times, and prints JSON.
//   node bench/vision_reference.js DIR [ITERATIONS]
'use strict';
const path = require('path');
const { execFileSync } = require('child_process');
const { createRequire } = require('module');
const req = createRequire(path.join(__dirname, '..', 'tools', 'models', 'package.json'));
const faceapi = req('@vladmandic/face-api/dist/face-api.node-wasm.js');
const MODEL_DIR = path.join(path.dirname(req.resolve('@vladmandic/face-api/package.json')), 'model');

function decode(file) {
    const ppm = execFileSync('djpeg', ['-ppm', file], { maxBuffer: 1 << 28 });
    const header = ppm.subarray(0, 64).toString('latin1').match(/^P6\s+(\d+)\s+(\d+)\s+255\s/);
    const [w, h] = [Number(header[1]), Number(header[2])];
    const rgb = ppm.subarray(header[0].length, header[0].length + w * h * 3);
    return faceapi.tf.tensor3d(new Int32Array(rgb), [h, w, 3], 'int32');
}

function stats(t) {
    const s = [...t].sort((a, b) => a - b);
    const p95 = s[Math.max(0, Math.ceil(0.95 * s.length) - 1)];
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    return { p50_ms: +s[s.length >> 1].toFixed(3), p95_ms: +p95.toFixed(3), mean_ms: +mean.toFixed(3), n: s.length };
}

async function time(n, fn) {
    await fn(); // warm-up: kernels compile on first use
    const t = [];
    for (let i = 0; i < n; i++) {
        const s = process.hrtime.bigint();
        await fn();
        t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    return stats(t);
}

async function main() {
    const dir = process.argv[2];
    const n = Number(process.argv[3] || 5);
    await faceapi.tf.setBackend('cpu');
    await faceapi.tf.ready();
    await faceapi.nets.tinyFaceDetector.loadFromDisk(MODEL_DIR);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR);
    await faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR);
    const vga = decode(path.join(dir, 'vga.jpg'));
    const doc = decode(path.join(dir, 'document.jpg'));
    const sel = decode(path.join(dir, 'selfie.jpg'));
    const out = { engine: `face-api ${faceapi.version} on tfjs ${faceapi.tf.version_core} (${faceapi.tf.getBackend()})` };
    const opt416 = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 });
    const opt224 = new faceapi.TinyFaceDetectorOptions({ inputSize: 224, scoreThreshold: 0.5 });
    out.detect_landmarks_640x480 = await time(n, () => faceapi.detectAllFaces(vga, opt416).withFaceLandmarks());
    const chip = faceapi.tf.slice3d(doc, [100, 100, 0], [150, 150, 3]);
    out.descriptor_per_face = await time(n, () => faceapi.nets.faceRecognitionNet.computeFaceDescriptor(chip));
    let distance = null;
    out.face_match_check = await time(n, async () => {
        const a = await faceapi.detectAllFaces(doc, opt224).withFaceLandmarks().withFaceDescriptors();
        const b = await faceapi.detectAllFaces(sel, opt224).withFaceLandmarks().withFaceDescriptors();
        if (a.length && b.length) distance = faceapi.euclideanDistance(a[0].descriptor, b[0].descriptor);
    });
    out.match_distance = distance === null ? null : +distance.toFixed(4);
    out.note = 'decode (djpeg) is outside the timed part; the C face_match_check includes two JPEG decodes';
    console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => { console.error(e); process.exit(1); });
