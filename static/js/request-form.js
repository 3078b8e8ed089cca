// Progressive enhancement for the new-request form: the DVD region and encoding fields
// matter only for video, so they are shown only when the format is DVD / Blu-ray.
// Without JavaScript both stay visible, with help text saying when they apply.
(function () {
  "use strict";
  var format = document.getElementById("id_format");
  var videoFields = document.getElementById("video-fields");
  if (!format || !videoFields) {
    return;
  }
  function update() {
    videoFields.hidden = format.value !== "video";
  }
  format.addEventListener("change", update);
  update();
})();
