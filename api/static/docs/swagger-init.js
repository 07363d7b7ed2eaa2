// Starts Swagger UI on the page's OpenAPI document; a file of its own, so the page needs no
// inline script and its Content-Security-Policy can refuse them.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.url, dom_id: "#swagger-ui", deepLinking: true });
});
