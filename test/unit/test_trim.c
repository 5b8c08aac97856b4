/*
 * What the controller's caches keep of watched objects (controller/kube/trim.c).
 */
#include "helpers.h"

#include "controller/kube/trim.h"

/* obj after trimming equals want (both JSON texts, ' for "). */
static void check_trim(const char *obj_text, const char *want_text)
{
    json_t *obj = q(obj_text), *want = q(want_text);
    pgw_trim_cached_object(obj);
    char *got = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(obj, want), "got %s", got);
    free(got);
    json_decref(obj);
    json_decref(want);
}

START_TEST(pod_keeps_metadata_and_conditions)
{
    check_trim("{'kind':'Pod','metadata':{'name':'c-0','labels':{'pgwarden.io/role':'primary'},"
               "'annotations':{'pgwarden.io/injected':'abc'},'managedFields':[{'manager':'kubelet'}]},"
               "'spec':{'containers':[{'name':'postgres'}]},"
               "'status':{'phase':'Running','conditions':[{'type':'Ready','status':'True'}],"
               "'containerStatuses':[{'name':'postgres'}],'initContainerStatuses':[]}}",
               "{'kind':'Pod','metadata':{'name':'c-0','labels':{'pgwarden.io/role':'primary'},"
               "'annotations':{'pgwarden.io/injected':'abc'}},"
               "'status':{'phase':'Running','conditions':[{'type':'Ready','status':'True'}]}}");
}
END_TEST

START_TEST(statefulset_keeps_replicas_and_status)
{
    check_trim("{'kind':'StatefulSet','metadata':{'name':'c','generation':3},"
               "'spec':{'replicas':3,'template':{'spec':{}},'volumeClaimTemplates':[{}]},"
               "'status':{'replicas':3,'readyReplicas':2}}",
               "{'kind':'StatefulSet','metadata':{'name':'c','generation':3},'spec':{'replicas':3},"
               "'status':{'replicas':3,'readyReplicas':2}}");
}
END_TEST

START_TEST(job_drops_template_only)
{
    check_trim("{'kind':'Job','metadata':{'name':'b','labels':{'pgwarden.io/backup':'b'}},"
               "'spec':{'backoffLimit':2,'template':{'spec':{}}},'status':{'succeeded':1}}",
               "{'kind':'Job','metadata':{'name':'b','labels':{'pgwarden.io/backup':'b'}},"
               "'spec':{'backoffLimit':2},'status':{'succeeded':1}}");
}
END_TEST

START_TEST(cluster_keeps_spec_drops_last_applied)
{
    check_trim("{'kind':'PostgresCluster','metadata':{'name':'c','annotations':{"
               "'kubectl.kubernetes.io/last-applied-configuration':'{}','team':'a'},'managedFields':[]},"
               "'spec':{'instances':3}}",
               "{'kind':'PostgresCluster','metadata':{'name':'c','annotations':{'team':'a'}},"
               "'spec':{'instances':3}}");
}
END_TEST

START_TEST(odd_shapes_are_left_alone)
{
    check_trim("{'metadata':{'name':'x','managedFields':[]},'spec':{'template':1}}",
               "{'metadata':{'name':'x'},'spec':{'template':1}}");
    check_trim("{'kind':'StatefulSet','spec':'not an object'}", "{'kind':'StatefulSet','spec':'not an object'}");
    check_trim("{'kind':'Pod','metadata':null}", "{'kind':'Pod','metadata':null}");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pod_keeps_metadata_and_conditions);
    tcase_add_test(tc, statefulset_keeps_replicas_and_status);
    tcase_add_test(tc, job_drops_template_only);
    tcase_add_test(tc, cluster_keeps_spec_drops_last_applied);
    tcase_add_test(tc, odd_shapes_are_left_alone);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
