"use strict";
(function () {
  const error = new URLSearchParams(location.search).get("error");
  const box = document.getElementById("error");
  if (error === "locked") {
    box.textContent = "試行回数が多すぎます。しばらく待ってから再度お試しください。(Too many attempts; wait and retry.)";
    box.hidden = false;
  } else if (error) {
    box.textContent = "ユーザー名またはパスワードが正しくないか、IT 管理者の権限がありません。(Wrong username or password, or not an IT administrator.)";
    box.hidden = false;
  }
})();
