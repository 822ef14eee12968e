"""Drives a TP-Link Archer MR persona with the real tplinkrouterc6u client (its MR client:
RSA key from getParm, AES-encrypted login, TokenID, encrypted cgi_gdpr acts): firmware, LTE
status, send an SMS (with a line break), read the inbox, log out. Prints one line per step
for the Rust test to check."""
import sys

from tplinkrouterc6u import TPLinkMRClient

url, password, number, text = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
router = TPLinkMRClient(url, password, username="admin", timeout=10)
router.authorize()
fw = router.get_firmware()
print("MODEL", fw.model, "|", fw.hardware_version, "|", fw.firmware_version)
lte = router.get_lte_status()
print("LTE", lte.isp_name, lte.sig_level, lte.sim_status)
router.send_sms(number, text)
print("SEND OK")
inbox = router.get_sms()
print("INBOX", len(inbox), all(m.sender and m.content for m in inbox))
router.logout()
print("LOGOUT OK")
