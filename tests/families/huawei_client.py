"""Drives a HiLink persona with the real huawei-lte-api client: login, device information,
send an SMS, list the sent box. Prints one line per step for the Rust test to check."""
import sys

from huawei_lte_api.Client import Client
from huawei_lte_api.Connection import Connection
from huawei_lte_api.enums.sms import BoxTypeEnum

url, number, text = sys.argv[1], sys.argv[2], sys.argv[3]
with Connection(url, username="admin", password="admin", timeout=10) as connection:
    client = Client(connection)
    info = client.device.information()
    print("MODEL", info["DeviceName"], info["SoftwareVersion"], info["Imei"])
    print("SEND", client.sms.send_sms([number], text))
    listed = client.sms.get_sms_list(1, BoxTypeEnum.LOCAL_SENT)
    first = listed["Messages"]["Message"][0]
    print("LIST", listed["Count"], first["Phone"], repr(first["Content"]))
    print("COUNT", client.sms.sms_count()["LocalOutbox"])
