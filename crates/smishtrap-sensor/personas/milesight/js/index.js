function rpc(req,cb){var x=new XMLHttpRequest();x.open("POST","/cgi",true);x.setRequestHeader("Content-Type","application/json");
  x.onreadystatechange=function(){if(x.readyState!=4)return;var r=null;try{r=JSON.parse(x.responseText);}catch(e){}cb(r);};
  x.send(JSON.stringify(req));}
function item(r){return r&&r.status==0&&r.result&&r.result[0]&&r.result[0].get&&r.result[0].get[0]?r.result[0].get[0].value:null;}
function fill(id,rows){var body=document.getElementById(id).getElementsByTagName("tbody")[0];
  for(var i=0;i<rows.length;i++){var tr=document.createElement("tr"),k=document.createElement("td"),v=document.createElement("td");
    k.className="k";k.textContent=rows[i][0];v.textContent=rows[i][1]==null?"":String(rows[i][1]);tr.appendChild(k);tr.appendChild(v);body.appendChild(tr);}}
function do_logout(){var x=new XMLHttpRequest();x.open("POST","/logout",true);
  x.onreadystatechange=function(){if(x.readyState==4)window.location.href="/login.html";};x.send(null);return false;}
function load(){
  var x=new XMLHttpRequest();x.open("POST","/islogin",true);
  x.onreadystatechange=function(){if(x.readyState!=4)return;var r=null;try{r=JSON.parse(x.responseText);}catch(e){}
    var s=r&&r.result&&r.result[0];if(!s||s.login!="true"){window.location.href="/login.html";return;}
    document.getElementById("login_user").textContent=s.username;
    rpc({"id":2,"execute":1,"core":"yruo_status","function":"get","values":[{"base":"summary"}]},function(r){var v=item(r);if(!v)return;
      fill("system_info",[["Model",v.system.model],["Serial Number",v.system.sn],["Firmware Version",v.system.firmware],["Host Name",v.system.hostname],["Local Time",v.system.local_time],["Uptime",v.system.uptime]]);
      fill("lan_info",[["IP Address",v.lan.ip],["MAC Address",v.lan.mac]]);});
    rpc({"id":3,"execute":1,"core":"yruo_status","function":"get","values":[{"base":"yruo_celluar"}]},function(r){var v=item(r);if(!v)return;
      fill("cell_info",[["Modem Status",v.modem.modem_status],["Model",v.modem.model],["Current SIM",v.modem.cur_sim],["Registration",v.modem.register],["IMEI",v.modem.imei],["Signal Level",v.modem.signal],["Network Provider",v.modem.net_provider],["Network Type",v.modem.net_type],["IP Address",v.network.ip],["Connection Duration",v.network.time]]);
      document.getElementById("content").setAttribute("data-loaded","1");});};
  x.send(null);}
window.onload=load;
