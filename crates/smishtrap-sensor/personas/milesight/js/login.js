var KEY = "1111111111111111", IV = "2222222222222222";
function enc(p){return CryptoJS.AES.encrypt(p,CryptoJS.enc.Utf8.parse(KEY),{iv:CryptoJS.enc.Utf8.parse(IV),mode:CryptoJS.mode.CBC,padding:CryptoJS.pad.Pkcs7}).toString();}
function show_msg(t){document.getElementById("login_msg").textContent=t;}
function do_login(){
  var u=document.getElementById("username").value,p=document.getElementById("password").value;
  if(!u||!p){show_msg("Please enter username and password");return false;}
  var req={"id":"1","execute":1,"core":"user","function":"login","values":[{"username":u,"password":enc(p)}]};
  var x=new XMLHttpRequest();x.open("POST","/cgi",true);x.setRequestHeader("Content-Type","application/json");
  x.onreadystatechange=function(){if(x.readyState!=4)return;var r;try{r=JSON.parse(x.responseText);}catch(e){show_msg("Network error");return;}
    if(r.status==0){window.location.href="/index.html";}
    else if(r.result&&r.result[0]&&r.result[0].locktime>0){show_msg("Locked, try again later");}
    else{show_msg("Wrong username or password");}};
  x.send(JSON.stringify(req));return false;}
