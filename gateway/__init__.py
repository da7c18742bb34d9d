"""Gateway: receives node uplinks over CoAP and MQTT, verifies them and writes them to the store."""
