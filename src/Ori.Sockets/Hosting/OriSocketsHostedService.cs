using Microsoft.Extensions.Hosting;

namespace Ori.Sockets.Hosting;

/// <summary>Starts and stops the provider, runs the idle sweeper, and closes every socket with 1001 on shutdown.</summary>
/// <remarks>Takes the presence events too, so that they watch the hub from the start.</remarks>
internal sealed class OriSocketsHostedService(ConnectionRegistry registry, ISocketProvider provider, IHostApplicationLifetime lifetime, Ori.Sockets.PubSub.PresenceEvents presence) : IHostedService
{
    private CancellationTokenRegistration _stopping;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await provider.StartAsync(cancellationToken).ConfigureAwait(false);
        registry.StartIdleSweeper();

        // ApplicationStopping fires before the server stops taking requests and waiting for open
        // ones: closing the sockets then lets their requests end, so the host stops in time.
        _stopping = lifetime.ApplicationStopping.Register(static state => _ = ((ConnectionRegistry)state!).ShutdownAsync(CancellationToken.None), registry);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.DisposeAsync().ConfigureAwait(false);
        await registry.ShutdownAsync(cancellationToken).ConfigureAwait(false);
        await provider.StopAsync(cancellationToken).ConfigureAwait(false);
        presence.Dispose();
    }
}
