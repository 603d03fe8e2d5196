// Runs only in browsers without ES modules (which cannot run the client at all): say so in both
// languages. Deliberately old JavaScript (ES5) and no dependencies on the other files.
(function () {
  var main = document.getElementById("main");
  if (!main) return;
  main.textContent = "";
  var h = document.createElement("h1");
  h.textContent = "このブラウザーではご利用いただけません / This browser cannot be used";
  var p = document.createElement("p");
  p.className = "lead";
  p.textContent = "JavaScript モジュールに対応していません。最新の Chrome、Edge、Safari または Firefox で開いてください。" +
    " / It lacks JavaScript modules. Please open the link in a current Chrome, Edge, Safari or Firefox.";
  main.appendChild(h);
  main.appendChild(p);
})();
