using System.Net;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// Redis stopped and started again under two Dashboard instances (a private redis-server): neither host stops (the
/// simulator keeps publishing through the outage), and afterwards both serve pages and sockets and deliver across
/// instances.
/// </summary>
public sealed class RedisOutageTests
{
    [Fact]
    public Task Two_instances_survive_a_redis_restart() => RestartRedisUnderTwoInstancesAsync(deliverAfterwards: false);

    [Fact]
    public Task Two_instances_survive_a_redis_restart_and_deliver_across_instances_afterwards() => RestartRedisUnderTwoInstancesAsync(deliverAfterwards: true);

    private static async Task RestartRedisUnderTwoInstancesAsync(bool deliverAfterwards)
    {
        var prefix = "out" + Guid.NewGuid().ToString("N")[..10];
        await using var redis = await RedisServer.StartAsync();
        await using var one = await DashboardServer.StartAsync(simulatorSeconds: 0.2, redis: redis.Endpoint, prefix: prefix);
        await using var two = await DashboardServer.StartAsync(simulatorSeconds: 0.2, redis: redis.Endpoint, prefix: prefix);

        await redis.StopAsync();

        // Long enough for several simulator ticks on each instance to fail.
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        Assert.False(one.IsStopping, "instance one began to stop during the outage");
        Assert.False(two.IsStopping, "instance two began to stop during the outage");

        // An incident made meanwhile is kept but cannot be announced (its topic takes offsets from Redis): 503, a problem body.
        using (var during = await one.PostIncidentAsync("alice-token", """{"projectId":"api","title":"during","severity":"high","monitorId":"payments"}"""))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, during.StatusCode);
            Assert.Equal("application/problem+json", during.Content.Headers.ContentType?.MediaType);
        }

        await redis.StartAgainAsync();
        Assert.False(one.IsStopping);
        Assert.False(two.IsStopping);
        foreach (var server in new[] { one, two })
        {
            using var page = await server.Http.GetAsync("/", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        if (!deliverAfterwards)
        {
            return;
        }

        // Delivery across instances resumes: an incident created on one reaches a subscriber on the other.
        await using var bob = await two.ConnectAsync("bob-token");

        // The project's topics are recoverable: subscribing reads their positions from Redis, so it is answered
        // "unavailable" until this instance has its connection back; then it succeeds.
        await Eventually.TrueAsync(async () => !(await bob.AskAsync("subscribe.project", new { projectId = "api" }, "s" + Guid.NewGuid().ToString("N")[..6])).TryGetProperty("error", out _), TimeSpan.FromSeconds(30));
        // Within 30 s of the subscription (the other instance may reconnect later than this one on a loaded machine).
        var delivered = false;
        var trying = System.Diagnostics.Stopwatch.StartNew();
        for (var attempt = 0; !delivered && trying.Elapsed < TimeSpan.FromSeconds(30); attempt++)
        {
            using var created = await one.PostIncidentAsync("alice-token", $$"""{"projectId":"api","title":"after-{{attempt}}","severity":"high","monitorId":"payments"}""");
            try
            {
                await bob.NextPushAsync("incident.created").WaitAsync(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);
                delivered = true;
            }
            catch (TimeoutException)
            {
            }
        }

        Assert.True(delivered, "no incident crossed instances after Redis came back");
    }
}
