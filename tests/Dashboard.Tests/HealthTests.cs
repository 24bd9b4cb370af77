using System.Net;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>GET /health: 200 while the Dashboard can serve, 503 while Redis is configured and unreachable.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task One_instance_without_Redis_is_healthy()
    {
        await using var server = await DashboardServer.StartAsync();
        using var response = await server.Http.GetAsync(new Uri("/health", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task With_Redis_it_is_503_while_Redis_is_unreachable_and_200_again_when_it_is_back()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var server = await DashboardServer.StartAsync(redis: redis.Endpoint, prefix: "health" + Guid.NewGuid().ToString("N")[..8]);
        await Eventually.TrueAsync(async () => await StatusAsync(server) == HttpStatusCode.OK, TimeSpan.FromSeconds(10));

        await redis.StopAsync();
        await Eventually.TrueAsync(async () => await StatusAsync(server) == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(15));

        // Still serving meanwhile: the page and sockets of this instance work.
        using (var page = await server.Http.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        await redis.StartAgainAsync();
        await Eventually.TrueAsync(async () => await StatusAsync(server) == HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }

    private static async Task<HttpStatusCode> StatusAsync(DashboardServer server)
    {
        using var response = await server.Http.GetAsync(new Uri("/health", UriKind.Relative), TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
