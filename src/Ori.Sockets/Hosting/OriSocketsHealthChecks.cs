using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Ori.Sockets.Hosting;

/// <summary>
/// The runtime's health: unhealthy while it shuts down (it accepts no connection), degraded under queue pressure (more
/// than a tenth of the sockets hold over half of their outbound queue), healthy otherwise.
/// </summary>
internal sealed class RuntimeHealthCheck(ConnectionRegistry registry, IOptions<OriSocketsOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (connections, queued, pressed) = registry.OutboundLoad(options.Value.OutboundQueueLimit / 2);

        var data = new Dictionary<string, object>
        {
            ["connections"] = connections,
            ["outbound_queued_bytes"] = queued,
            ["sockets_over_half_their_queue"] = pressed,
        };
        if (registry.IsStopping)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Shutting down: new connections are refused.", data: data));
        }

        if (pressed > 0 && pressed * 10 > connections)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"{pressed} of {connections} sockets hold over half of their outbound queue (clients slower than what is sent to them).", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"Accepting connections; {connections} open.", data));
    }
}

/// <summary>The provider's health: the in-process provider is always healthy; a scaling provider reports its dependency.</summary>
internal sealed class ProviderHealthCheck(ISocketProvider provider) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        provider is IProviderHealth health
            ? health.CheckHealthAsync(cancellationToken)
            : Task.FromResult(HealthCheckResult.Healthy("One instance, in process: no dependency."));
}

/// <summary>A provider that depends on something that may be away (Redis) and says how it is.</summary>
internal interface IProviderHealth
{
    Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken);
}
