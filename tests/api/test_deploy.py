"""Deploying BPMN over the API: process owners only, and every invalid model is a 422 naming the problem."""

from __future__ import annotations

import io

import pytest

EVIL_SCRIPT = """
    <bpmn:scriptTask id="evil" name="Evil">
      <bpmn:script>x = __import__('os').system('id')</bpmn:script>
    </bpmn:scriptTask>
"""


@pytest.fixture
def owner(auth):
    return auth.user(group="process-owners")


def _upload(xml, filename="test.bpmn"):
    return {"file": (io.BytesIO(xml), filename)}


def test_a_process_owner_deploys_a_bpmn_file_as_multipart_and_gets_version_1(api, owner, make_bpmn):
    response = api.post("/processes", as_=owner, data=_upload(make_bpmn()), content_type="multipart/form-data")

    assert response.status_code == 201, response.get_json()
    process = response.get_json()
    assert process["key"] == "api_test_process"
    assert process["version"] == 1
    assert process["deployed_by"] == owner


def test_deploying_the_same_key_again_as_a_raw_body_makes_version_2_and_lists_it(api, owner, make_bpmn):
    api.post("/processes", as_=owner, data=_upload(make_bpmn()), content_type="multipart/form-data")
    changed = make_bpmn(form="lone_work_application")

    response = api.post(
        "/processes", as_=owner, data=changed, content_type="application/xml", query_string={"filename": "t.bpmn"}
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 2
    listed = api.get("/processes", as_=owner).get_json()
    assert {"api_test_process": 2}.items() <= {p["key"]: p["version"] for p in listed}.items()


def test_the_process_list_holds_the_bundled_lone_work_process(api, auth):
    employee = auth.user(group="employees")

    response = api.get("/processes", as_=employee)

    assert response.status_code == 200
    assert "lone_work_approval" in {process["key"] for process in response.get_json()}


@pytest.mark.parametrize("group", ["employees", "amk", "leaders"])
def test_a_user_who_is_no_process_owner_gets_403_deploying(api, auth, make_bpmn, group):
    user = auth.user(group=group, not_group="process-owners")

    response = api.post("/processes", as_=user, data=_upload(make_bpmn()), content_type="multipart/form-data")

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_an_admin_may_deploy(api, auth, make_bpmn):
    admin = auth.user(group="admins")

    response = api.post("/processes", as_=admin, data=_upload(make_bpmn()), content_type="multipart/form-data")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"form": "no_such_form"}, "no_such_form"),
        ({"lane": "wizards"}, "wizards"),
        ({"extra": EVIL_SCRIPT}, "evil"),
    ],
    ids=["unknown form", "unknown lane group", "script with __import__"],
)
def test_an_invalid_model_is_422_with_a_message_naming_the_problem(api, owner, make_bpmn, options, named):
    response = api.post("/processes", as_=owner, data=_upload(make_bpmn(**options)), content_type="multipart/form-data")

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_model"
    assert named in error["message"] or named in error.get("fields", {}).values()


def test_an_xml_with_an_external_entity_is_422_and_never_resolved(api, owner, make_bpmn):
    xml = (
        make_bpmn()
        .replace(
            b'<?xml version="1.0" encoding="UTF-8"?>',
            b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        )
        .replace(b'name="API test process"', b'name="&e;"')
    )

    response = api.post("/processes", as_=owner, data=_upload(xml), content_type="multipart/form-data")

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_model"
    assert "root:" not in response.get_data(as_text=True)
    assert "DOCTYPE" in error["message"] or "entit" in error["message"].lower()


def test_a_file_that_is_not_xml_is_422(api, owner):
    response = api.post("/processes", as_=owner, data=_upload(b"hello"), content_type="multipart/form-data")

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_model"


def test_a_deploy_without_a_file_is_400_naming_file(api, owner):
    response = api.post("/processes", as_=owner, data={"other": "x"}, content_type="multipart/form-data")

    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) == {"file"}


def test_a_deploy_with_an_empty_body_is_400_naming_file(api, owner):
    response = api.post("/processes", as_=owner, data=b"", content_type="application/xml")

    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) == {"file"}


def test_a_bpmn_file_declared_iso_8859_1_with_danish_text_is_deployed(api, owner, make_bpmn):
    xml = (
        make_bpmn().decode()
        .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .replace('name="Do it"', 'name="Gør det"')
        .encode("iso-8859-1")
    )

    response = api.post("/processes", as_=owner, data=_upload(xml), content_type="multipart/form-data")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 1


def test_a_bpmn_file_whose_bytes_are_not_its_declared_encoding_is_422_naming_the_problem(api, owner, make_bpmn):
    xml = make_bpmn().decode().replace('name="Do it"', 'name="Gør det"').encode("iso-8859-1")

    response = api.post("/processes", as_=owner, data=_upload(xml), content_type="multipart/form-data")

    assert response.status_code == 422
    assert "not well-formed XML" in response.get_json()["error"]["message"]


def test_a_2000_deep_expression_is_422_not_a_server_error(api, owner, make_bpmn):
    deep = '<bpmn:scriptTask id="deep"><bpmn:script>x = ' + "-" * 2000 + "1</bpmn:script></bpmn:scriptTask>"

    xml = make_bpmn(extra=deep)

    response = api.post("/processes", as_=owner, data=_upload(xml), content_type="multipart/form-data")

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_model"
    assert "nests more than" in error["message"]
