// batpass landing page: read a battery's QR code in the browser (vendored jsQR) and search for it.
// The camera where the browser offers one, a photo otherwise; no image leaves the device.
// The messages come translated from the page (data-msg-* on #scan).
(function () {
  "use strict";
  var scan = document.getElementById("scan");
  var form = document.querySelector("form.search");
  var input = document.getElementById("q");
  var status = document.getElementById("scan-status");
  if (!scan || !form || !input || typeof window.jsQR !== "function") {
    return; // no decoder: the search box still works
  }
  scan.hidden = false;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var MAX_SIDE = 1600; // large photos are scaled down: faster, and jsQR needs no more

  function say(key) {
    status.textContent = scan.getAttribute("data-msg-" + key) || "";
  }

  function decode(source, width, height) {
    var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    var pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "attemptBoth" });
    return code && code.data ? code.data : null;
  }

  function found(text) {
    input.value = text;
    say("found");
    form.submit();
  }

  document.getElementById("qr-file").addEventListener("change", function (event) {
    var file = event.target.files && event.target.files[0];
    if (!file) {
      return;
    }
    var url = URL.createObjectURL(file);
    var image = new Image();
    image.onload = function () {
      var text = decode(image, image.naturalWidth, image.naturalHeight);
      URL.revokeObjectURL(url);
      if (text) {
        found(text);
      } else {
        say("none");
      }
    };
    image.onerror = function () {
      URL.revokeObjectURL(url);
      say("unreadable");
    };
    image.src = url;
  });

  var media = navigator.mediaDevices;
  if (!media || typeof media.getUserMedia !== "function") {
    return; // no camera in this browser: the photo entry remains
  }
  var camera = document.getElementById("camera");
  var start = document.getElementById("camera-start");
  var stop = document.getElementById("camera-stop");
  var video = document.getElementById("camera-view");
  var stream = null;
  camera.hidden = false;

  function halt() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
    }
    stream = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
    start.focus();
  }

  function look() {
    if (!stream) {
      return;
    }
    if (video.readyState >= video.HAVE_ENOUGH_DATA) {
      var text = decode(video, video.videoWidth, video.videoHeight);
      if (text) {
        halt();
        found(text);
        return;
      }
    }
    window.requestAnimationFrame(look);
  }

  start.addEventListener("click", function () {
    media.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      start.hidden = true;
      stop.hidden = false;
      stop.focus();
      say("looking");
      return video.play().then(look);
    }).catch(function () {
      halt();
      say("camera-off");
    });
  });
  stop.addEventListener("click", halt);
})();
