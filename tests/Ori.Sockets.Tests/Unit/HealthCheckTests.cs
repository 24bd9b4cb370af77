using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Ori.Sockets.Hosting;

namespace Ori.Sockets.Tests.Unit;

public sealed class HealthCheckTests
{
    [Fact]
    public async Task The_runtime_is_healthy_while_it_accepts_connections_and_unhealthy_once_it_shuts_down()
    {
        var options = Options.Create(new OriSocketsOptions());
        using var registry = new ConnectionRegistry(options, TimeProvider.System, NullLoggerFactory.Instance);
        var check = new RuntimeHealthCheck(registry, options);
        var context = new HealthCheckContext();

        var before = await check.CheckHealthAsync(context, TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Healthy, before.Status);
        Assert.Equal(0, before.Data["connections"]);

        await registry.ShutdownAsync(TimeSpan.Zero, TimeSpan.Zero, TestContext.Current.CancellationToken);
        var after = await check.CheckHealthAsync(context, TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, after.Status);
        Assert.Contains("Shutting down", after.Description, StringComparison.Ordinal);
    }
}
