/** Light or dark: the system's preference until the user picks one (remembered in localStorage). */
import { effect, signal } from "@preact/signals";

type Theme = "light" | "dark";
const KEY = "webencode.theme";
const system = (): Theme => (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
const saved = localStorage.getItem(KEY);

export const theme = signal<Theme>(saved === "light" || saved === "dark" ? saved : system());

effect(() => {
  document.documentElement.dataset.theme = theme.value;
});

export function toggleTheme(): void {
  theme.value = theme.value === "dark" ? "light" : "dark";
  localStorage.setItem(KEY, theme.value);
}
