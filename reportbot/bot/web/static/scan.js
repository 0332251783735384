// The desk's camera scan of a 带看 QR code (the page works without it: type the code or the phone).
// Uses the browser's BarcodeDetector where there is one, else jsQR (vendored: jsQR.js, Apache-2.0).
(function () {
  "use strict";
  var box = document.querySelector("[data-scan]");
  if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  var start = box.querySelector("[data-scan-start]");
  var video = box.querySelector("[data-scan-video]");
  var note = box.querySelector("[data-scan-note]");
  var form = document.getElementById("desk-search");
  start.hidden = false;

  function found(text) {
    var match = /\/v\/([a-z2-7]{20})\b/.exec(text) || /^([a-z2-7]{20})$/.exec(text);
    if (!match) { return false; }
    window.location.assign("/v/" + match[1]);
    return true;
  }

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      note.hidden = false;
      note.textContent = "对准带看二维码……";
      video.play();
      var detector = ("BarcodeDetector" in window) ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", { willReadFrequently: true });
      function tick() {
        if (video.readyState < 2) { requestAnimationFrame(tick); return; }
        if (detector) {
          detector.detect(video).then(function (codes) {
            if (!codes.length || !found(codes[0].rawValue)) { requestAnimationFrame(tick); }
          }, function () { detector = null; requestAnimationFrame(tick); });
          return;
        }
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR ? window.jsQR(image.data, image.width, image.height) : null;
        if (!code || !found(code.data)) { requestAnimationFrame(tick); }
      }
      requestAnimationFrame(tick);
    }, function () {
      note.hidden = false;
      note.textContent = "无法打开摄像头：请直接输入带看码或电话。";
    });
  });
  if (form) { form.addEventListener("submit", function () { if (video.srcObject) { video.srcObject.getTracks().forEach(function (t) { t.stop(); }); } }); }
}());
